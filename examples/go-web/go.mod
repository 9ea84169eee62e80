module example.test/go-web

go 1.19
