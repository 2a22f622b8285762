"""Tiny TCP peers for scripts/real/make.py, run inside the namespaces.

Both roles follow a script of steps separated by commas, applied to each connection:
  recv          one recv() (waits for the first data)
  recv:N        read exactly N bytes
  recv-eof      read until the peer's FIN (ECONNRESET ends it too)
  recv-line     read until a newline ends what was read so far
  send:N        send N bytes of b"x"
  send:@TEXT    send TEXT (\\n = newline)
  sleep:S       sleep S seconds
  close         close() (FIN)
  rst           SO_LINGER {1, 0} then close() (RST)
The server's script runs per accepted connection; the client's per connection.
"""
import argparse
import errno
import socket
import struct
import sys
import time

T0 = time.monotonic()


def now():
    return f"t={time.monotonic() - T0:.3f}s"


def family(ip):
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def run_script(s, script, who):
    got = 0
    for step in filter(None, script.split(",")):
        op, _, arg = step.partition(":")
        try:
            if op == "recv" and not arg:
                b = s.recv(65536)
                got += len(b)
            elif op == "recv":
                n = int(arg)
                while n > 0:
                    b = s.recv(min(n, 1 << 20))
                    if not b:
                        break
                    n -= len(b)
                    got += len(b)
            elif op == "recv-line":
                buf = b""
                while not buf.endswith(b"\n"):
                    b = s.recv(1 << 20)
                    if not b:
                        break
                    got += len(b)
                    buf = (buf + b)[-2:]
            elif op == "recv-eof":
                while True:
                    b = s.recv(1 << 20)
                    if not b:
                        break
                    got += len(b)
            elif op == "send":
                data = (arg[1:].replace("\\n", "\n").encode() if arg.startswith("@")
                        else b"x" * int(arg))
                s.sendall(data)
            elif op == "sleep":
                time.sleep(float(arg))
            elif op == "close":
                s.close()
                return f"{who}: got {got} bytes, closed {now()}"
            elif op == "rst":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                return f"{who}: got {got} bytes, reset {now()}"
            else:
                raise SystemExit(f"unknown step {step}")
        except OSError as e:
            s.close()
            return f"{who}: got {got} bytes, {errno.errorcode.get(e.errno, e)} at {op} {now()}"
    s.close()
    return f"{who}: got {got} bytes, closed {now()}"


def server(a):
    ls = socket.socket(family(a.ip), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if a.tfo:
        ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, a.tfo)
    ls.bind((a.ip, a.port))
    ls.listen(a.backlog)
    with open(a.ready, "w") as f:
        f.write("ready\n")
    n = 0
    while True:
        c, peer = ls.accept()
        n += 1
        print(f"server {a.port}: accepted #{n} from {peer[0]}:{peer[1]} {now()}", flush=True)
        print(run_script(c, a.script, f"server {a.port} #{n}"), flush=True)


def client(a):
    gaps = [float(x) for x in a.gaps.split(",")] if a.gaps else []
    each = a.each.split(";") if a.each else []
    count = max(a.count, len(each), len(gaps) + 1 if gaps else 0)
    for i in range(1, count + 1):
        if i > 1:
            time.sleep(gaps[i - 2] if len(gaps) >= i - 1 else a.gap)
        a.script = each[i - 1] if len(each) >= i else a.script0
        start = time.monotonic()
        while True:
            s = socket.socket(family(a.dst), socket.SOCK_STREAM)
            if a.sport:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((a.ip or ("::" if ":" in a.dst else "0.0.0.0"), a.sport))
            if a.syn_retries:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, a.syn_retries)
            if a.timeout:
                s.settimeout(a.timeout)
            try:
                if a.tfo:
                    first, _, rest = a.script.partition(",")
                    assert first.startswith("send:")
                    arg = first[5:]
                    data = (arg[1:].replace("\\n", "\n").encode() if arg.startswith("@")
                            else b"x" * int(arg))
                    s.sendto(data, socket.MSG_FASTOPEN, (a.dst, a.port))
                    script = rest
                else:
                    s.connect((a.dst, a.port))
                    script = a.script
                err = None
                break
            except OSError as e:
                s.close()
                # the previous incarnation may be in LAST_ACK for a few microseconds
                if e.errno == errno.EADDRNOTAVAIL and time.monotonic() - start < 2:
                    time.sleep(0.001)
                    continue
                err = errno.errorcode.get(e.errno, type(e).__name__) if e.errno else type(e).__name__
                break
        took = time.monotonic() - start
        port = a.sport or "ephemeral"
        if err:
            print(f"connection {i} from port {port}: connect() failed {err} after {took:.3f}s",
                  flush=True)
            continue
        lport = s.getsockname()[1]
        print(f"connection {i} from port {lport}: established after {took:.3f}s", flush=True)
        print(run_script(s, script, f"connection {i}"), flush=True)


p = argparse.ArgumentParser()
p.add_argument("role", choices=["server", "client"])
p.add_argument("--ip")
p.add_argument("--port", type=int, required=True)
p.add_argument("--dst")
p.add_argument("--sport", type=int, default=0)
p.add_argument("--count", type=int, default=1)
p.add_argument("--gap", type=float, default=0)
p.add_argument("--timeout", type=float, default=0)
p.add_argument("--syn-retries", type=int, default=0)
p.add_argument("--tfo", type=int, default=0)
p.add_argument("--backlog", type=int, default=64)
p.add_argument("--ready")
p.add_argument("--script", default="")
p.add_argument("--gaps", default="", help="pause before each later connection (s), comma list")
p.add_argument("--each", default="", help="one script per connection, ';' separated")
a = p.parse_args()
a.script0 = a.script
server(a) if a.role == "server" else client(a)
