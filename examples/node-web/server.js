// A Node.js app with no Procfile: Shoal detects it by its package.json, installs its
// dependencies with `npm ci` (npm's cache kept per app between builds) and runs `npm start`
// as web (docs/apps.md, "Detected apps"). It answers on $PORT.
const http = require("http");

http
  .createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(`hello from ${process.env.SHOAL_INSTANCE || "?"} (node ${process.version})\n`);
  })
  .listen(Number(process.env.PORT), "127.0.0.1");
