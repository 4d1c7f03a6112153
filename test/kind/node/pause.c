/* Minimal pod sandbox "pause" process for the locally built kind node image (test/kind/build.sh): sleeps until
   SIGINT/SIGTERM, reaps adopted children. `pause -v` prints a version and exits. Built with gcc -Os -static. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig) { (void)sig; _exit(0); }
static void on_chld(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("pause (kubekms test/kind)");
    return 0;
  }
  struct sigaction a = {0}, c = {0};
  a.sa_handler = on_term;
  sigaction(SIGINT, &a, NULL);
  sigaction(SIGTERM, &a, NULL);
  c.sa_handler = on_chld;
  c.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &c, NULL);
  for (;;) pause();
}
