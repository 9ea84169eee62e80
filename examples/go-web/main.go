// A Go app with no Procfile: Shoal detects it by its go.mod, builds it with `go build`
// (its module and build caches kept per app between builds) and runs the binary as web
// (docs/apps.md, "Detected apps"). It answers on $PORT.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s (go, %s)\n", os.Getenv("SHOAL_INSTANCE"), runtime.Version())
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil))
}
