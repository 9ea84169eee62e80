/* A single static binary: `shoal deploy build/examples/hello-static --app hello-bin` runs
 * it as the app's `web` process (no Procfile needed). It answers every HTTP request on
 * $PORT with a line naming its instance. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  const char* port_text = getenv("PORT");
  const char* instance = getenv("SHOAL_INSTANCE");
  int port = port_text ? atoi(port_text) : 8000;
  if (port <= 0 || port > 65535) {
    fprintf(stderr, "bad PORT '%s'\n", port_text);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons((unsigned short)port);
  if (bind(fd, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(fd, 64) != 0) {
    perror("bind/listen");
    return 1;
  }
  printf("hello-static listening on %d as %s\n", port, instance ? instance : "?");
  fflush(stdout);
  char body[256];
  int body_len = snprintf(body, sizeof body, "hello from %s\n", instance ? instance : "?");
  for (;;) {
    int c = accept(fd, NULL, NULL);
    if (c < 0) continue;
    char buf[4096];
    (void)read(c, buf, sizeof buf); /* one small request; keep-alive is not offered */
    char head[256];
    int head_len = snprintf(head, sizeof head,
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Content-Length: %d\r\nConnection: close\r\n\r\n",
                            body_len);
    (void)write(c, head, (size_t)head_len);
    (void)write(c, body, (size_t)body_len);
    close(c);
  }
}
