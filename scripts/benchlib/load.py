#!/usr/bin/env python3
"""POSTs JSON lines to a running ctgd, one request per document on one keep-alive connection.

    load.py http://127.0.0.1:8080 conventions.jsonl [--token T] [--limit N]

Prints how many documents were created and the rate. Exits 1 on the first refused document.
"""
import argparse
import http.client
import sys
import time
import urllib.parse


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("file")
    parser.add_argument("--token")
    parser.add_argument("--limit", type=int, help="stop after N documents")
    args = parser.parse_args()
    url = urllib.parse.urlsplit(args.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    count, started = 0, time.monotonic()
    with open(args.file, "rb") as lines:
        for line in lines:
            if args.limit is not None and count >= args.limit:
                break
            conn.request("POST", "/v1/conventions", body=line, headers=headers)
            response = conn.getresponse()
            body = response.read()
            if response.status != 201:
                sys.exit(f"document {count + 1}: {response.status} {body.decode()[:300]}")
            count += 1
    elapsed = time.monotonic() - started
    print(f"loaded {count} documents in {elapsed:.3f} s "
          f"({count / elapsed:.0f}/s, one request each)")


if __name__ == "__main__":
    main()
