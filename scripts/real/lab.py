"""Network-namespace plumbing for scripts/real/make.py (run as root).

Every capture gets fresh namespaces named with the prefix ``pr3`` (client ``pr3c``, server
``pr3s``, bridge ``pr3b``; a suffix keeps parallel runs apart), joined by veth pairs, with
addresses in 10.93.0.0/16 and fd93::/64 only.  Nothing leaves the namespaces.
"""
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "peer.py")
RAW = os.path.join(HERE, "raw.py")


def log(*a):
    print("real:", *a, file=sys.stderr, flush=True)


def sh(cmd, check=True, **kw):
    """Run a command (list or string) and return its stdout."""
    if isinstance(cmd, str):
        cmd = shlex.split(cmd)
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def wait_for(what, pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


class Lab:
    """Two (or three, with a bridge in the middle) namespaces.

    client ns  CIF 10.93.N.1/24 fd93::N:1/64  <->  SIF 10.93.N.2/24 fd93::N:2/64  server ns
    With bridge=True: client veth <-> [pr3b: bridge of two ports] <-> server veth.
    """

    def __init__(self, tag="", bridge=False, net=0, v6=False):
        self.tag = tag
        self.c, self.s, self.b = f"pr3c{tag}", f"pr3s{tag}", f"pr3b{tag}"
        self.cif, self.sif = f"pr3-veth-c{tag}", f"pr3-veth-s{tag}"
        self.bridge = bridge
        self.v6 = v6
        self.cip, self.sip = f"10.93.{net}.1", f"10.93.{net}.2"
        self.cip6, self.sip6 = f"fd93::{net}:1", f"fd93::{net}:2"
        self.procs = []
        self.work = tempfile.mkdtemp(prefix=f"pr3-real{tag}.")
        self.sysctls = {}

    # ---------------------------------------------------------------- setup
    def __enter__(self):
        self.down()
        nss = [self.c, self.s] + ([self.b] if self.bridge else [])
        for ns in nss:
            sh(["ip", "netns", "add", ns])
            sh(["ip", "-n", ns, "link", "set", "lo", "up"])
            if not self.v6:
                for k in ("all", "default"):
                    self.ns_sysctl(ns, f"net.ipv6.conf.{k}.disable_ipv6=1", record=False)
        if self.bridge:
            sh(["ip", "link", "add", self.cif, "netns", self.c, "type", "veth",
                "peer", "name", "pr3-bp-c" + self.tag, "netns", self.b])
            sh(["ip", "link", "add", self.sif, "netns", self.s, "type", "veth",
                "peer", "name", "pr3-bp-s" + self.tag, "netns", self.b])
            sh(["ip", "-n", self.b, "link", "add", "pr3-br" + self.tag, "type", "bridge",
                "stp_state", "0", "forward_delay", "0"])
            for p in ("pr3-bp-c" + self.tag, "pr3-bp-s" + self.tag):
                sh(["ip", "-n", self.b, "link", "set", p, "master", "pr3-br" + self.tag])
                sh(["ip", "-n", self.b, "link", "set", p, "up"])
            sh(["ip", "-n", self.b, "link", "set", "pr3-br" + self.tag, "up"])
        else:
            sh(["ip", "link", "add", self.cif, "netns", self.c, "type", "veth",
                "peer", "name", self.sif, "netns", self.s])
        sh(["ip", "-n", self.c, "addr", "add", f"{self.cip}/24", "dev", self.cif])
        sh(["ip", "-n", self.s, "addr", "add", f"{self.sip}/24", "dev", self.sif])
        if self.v6:
            sh(["ip", "-n", self.c, "addr", "add", f"{self.cip6}/64", "dev", self.cif, "nodad"])
            sh(["ip", "-n", self.s, "addr", "add", f"{self.sip6}/64", "dev", self.sif, "nodad"])
        sh(["ip", "-n", self.c, "link", "set", self.cif, "up"])
        sh(["ip", "-n", self.s, "link", "set", self.sif, "up"])
        # fill the neighbour caches so no ARP/ND delays the first SYN
        time.sleep(0.3)
        self.run_c(["ping", "-c", "1", "-W", "2", self.sip], check=False)
        if self.v6:
            self.run_c(["ping", "-6", "-c", "1", "-W", "2", self.sip6], check=False)
        return self

    def __exit__(self, *exc):
        self.stop_all()
        self.down()
        sh(["rm", "-rf", self.work], check=False)

    def down(self):
        for ns in (self.c, self.s, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    # ----------------------------------------------------------- utilities
    def ns_sysctl(self, ns, kv, record=True):
        sh(["ip", "netns", "exec", ns, "sysctl", "-qw", kv])
        if record:
            k, v = kv.split("=", 1)
            self.sysctls.setdefault(ns, {})[k] = v

    def sysctl(self, side, *kvs):
        ns = {"c": self.c, "s": self.s, "b": self.b}[side]
        for kv in kvs:
            self.ns_sysctl(ns, kv)

    def nft(self, side, script):
        ns = {"c": self.c, "s": self.s}[side]
        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=script, text=True,
                       check=True)

    def nft_cmd(self, side, *args):
        ns = {"c": self.c, "s": self.s}[side]
        return sh(["ip", "netns", "exec", ns, "nft"] + list(args))

    def run_ns(self, ns, argv, check=True, timeout=None):
        return sh(["ip", "netns", "exec", ns] + argv, check=check, timeout=timeout)

    def run_c(self, argv, check=True, timeout=None):
        return self.run_ns(self.c, argv, check, timeout)

    def run_s(self, argv, check=True, timeout=None):
        return self.run_ns(self.s, argv, check, timeout)

    def spawn(self, ns, argv, name):
        out = open(os.path.join(self.work, name + ".log"), "w")
        p = subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
        p.logname = os.path.join(self.work, name + ".log")
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p)

    # ---------------------------------------------------------------- peers
    def server(self, side="s", name="server", **opts):
        """Start peer.py server in a namespace; wait until it listens."""
        ready = os.path.join(self.work, name + ".ready")
        if os.path.exists(ready):
            os.remove(ready)
        argv = ["python3", PEER, "server", "--ready", ready]
        for k, v in opts.items():
            argv += [f"--{k.replace('_', '-')}", str(v)]
        p = self.spawn(self.c if side == "c" else self.s, argv, name)
        wait_for(name, lambda: os.path.exists(ready))
        return p

    def client(self, side="c", name="client", background=False, **opts):
        argv = ["python3", PEER, "client"]
        for k, v in opts.items():
            if v is True:
                argv.append(f"--{k.replace('_', '-')}")
            else:
                argv += [f"--{k.replace('_', '-')}", str(v)]
        ns = self.c if side == "c" else self.s
        p = self.spawn(ns, argv, name)
        if background:
            return p
        p.wait()
        self.procs.remove(p)
        with open(p.logname) as f:
            text = f.read()
        for line in text.splitlines():
            log(f"  {name}: {line}")
        return text

    def raw(self, side="c", name="raw", background=False, args=()):
        ns = self.c if side == "c" else self.s
        p = self.spawn(ns, ["python3", RAW] + list(args), name)
        if background:
            return p
        p.wait()
        self.procs.remove(p)
        with open(p.logname) as f:
            text = f.read()
        for line in text.splitlines()[-6:]:
            log(f"  {name}: {line}")
        if p.returncode != 0:
            raise RuntimeError(f"{name} failed: {text[-2000:]}")
        return text

    # -------------------------------------------------------------- capture
    def tcpdump(self, side, iface, path, snap=128, filt="tcp", direction=None, name=None):
        ns = {"c": self.c, "s": self.s, "b": self.b}[side]
        name = name or "tcpdump-" + os.path.basename(path)
        argv = ["tcpdump", "-i", iface, "-U", "--immediate-mode", "-B", "16384", "-n",
                "-Z", "root", "-s", str(snap), "-w", path]
        if direction:
            argv[3:3] = ["-Q", direction]
        argv += shlex.split(filt)
        p = self.spawn(ns, argv, name)
        wait_for(name, lambda: "listening on" in open(p.logname).read())
        time.sleep(0.2)
        p.argv = argv
        return p

    def stop_tcpdump(self, p):
        time.sleep(1.0)
        self.stop(p, signal.SIGINT)
        text = open(p.logname).read()
        dropped = None
        for line in text.splitlines():
            if line.endswith("packets dropped by kernel"):
                dropped = int(line.split()[0])
        if dropped != 0:
            raise RuntimeError(f"tcpdump dropped {dropped} packets: {text}")
        return text

    def describe_sysctls(self):
        parts = []
        for ns, kv in self.sysctls.items():
            parts.append(f"{ns}: " + ", ".join(f"{k}={v}" for k, v in kv.items()))
        return "; ".join(parts) if parts else "defaults"
