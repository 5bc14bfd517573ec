#!/usr/bin/env python3
"""Times GET requests against ctgd: median and spread of N runs of each path.

    time_requests.py URL N PATH [PATH...]

One keep-alive connection; each answer is read in full and must be 200.
"""
import http.client
import statistics
import sys
import time
import urllib.parse


def main():
    url, runs, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    for path in paths:
        times, size = [], 0
        for _ in range(runs):
            started = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            size = len(response.read())
            times.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                sys.exit("%s: %d" % (path, response.status))
        print("%-60s median %9.2f ms  min %9.2f  max %9.2f  (%d bytes, %d runs)"
              % (path, statistics.median(times), min(times), max(times), size, runs))


if __name__ == "__main__":
    main()
