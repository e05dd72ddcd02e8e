#!/usr/bin/env python3
"""Python's http.server serving a directory (python3 static_server.py DIR), with one change: file bodies go out with
sendfile(2) instead of http.server's 64 KiB read/write loop, so a 1 GiB download measures hcbridge and hcrelay rather
than the interpreter. Prints "Serving HTTP on 127.0.0.1 port N ..." once it listens (port chosen by the system)."""
import functools
import http.server
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    def copyfile(self, source, outputfile):
        self.connection.sendfile(source)

    def log_message(self, format, *args):
        pass


if __name__ == '__main__':
    handler = functools.partial(Handler, directory=sys.argv[1])
    http.server.test(HandlerClass=handler, port=0, bind='127.0.0.1')
