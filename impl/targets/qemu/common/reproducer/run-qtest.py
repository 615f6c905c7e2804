#!/usr/bin/env python3
"""Runs an iommu-conformance .qtest reproducer against a QEMU build, with no other dependency.

usage: run-qtest.py [-v] [--poll-seconds S] SCRIPT.qtest QEMU_BINARY [-- EXTRA_QEMU_ARGS...]

The script's header names QEMU's command line (`# qemu-args:`) and a firmware image
(`# firmware: NAME SIZE FILL [HEAD_HEX]`: the file beside the script, or made in a temporary
directory: HEAD_HEX's bytes, then FILL to SIZE);
this runner adds `-qtest stdio`, sends each command, and checks every reply is OK. The
directives (`@let`, `@poll`, `@expect`, ...) are described in each script's header.

Exit status: 0 every assertion holds (QEMU behaves as the specification says), 1 an assertion
failed (the divergence reproduced), 2 the script could not run (QEMU did not start or died, a
command was refused, a poll never finished, a malformed script).
"""

import os
import re
import select
import shlex
import subprocess
import sys
import tempfile
import threading
import time

REPLY_TIMEOUT_S = 10.0
# A device's timer (edu's DMA copy) runs when QEMU's main loop gets to it: on a loaded machine
# that can take seconds, whatever the round count. A poll gives up only after both.
POLL_FLOOR_S = 10.0
POLL_PAUSE_S = 0.005


class CannotRun(Exception):
    """The script could not run to its end: not a verdict on QEMU's behaviour."""


# ---- expressions: names, numbers, ( ), & | << >>, comparisons, and, or -----------------------

TOKEN = re.compile(r"\s*(0x[0-9a-fA-F]+|\d+|[a-z_][a-z0-9_]*|<<|>>|==|!=|<=|>=|[()&|<>])")
COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
           "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def tokenize(text):
    tokens, at = [], 0
    text = text.rstrip()
    while at < len(text):
        m = TOKEN.match(text, at)
        if not m:
            raise CannotRun("cannot read the expression %r at %r" % (text, text[at:]))
        tokens.append(m.group(1))
        at = m.end()
    return tokens


def evaluate(text, names):
    """The value of an expression over bound names (Python ints; comparisons give bools)."""
    tokens = tokenize(text)
    pos = [0]

    def peek():
        return tokens[pos[0]] if pos[0] < len(tokens) else None

    def take(want=None):
        t = peek()
        if t is None or (want is not None and t != want):
            raise CannotRun("expression %r: expected %s" % (text, want or "more"))
        pos[0] += 1
        return t

    def atom():
        t = take()
        if t == "(":
            v = either()
            take(")")
            return v
        if t[0].isdigit():
            return int(t, 0)
        if t in ("and", "or") or not t[0].isalpha() and t[0] != "_":
            raise CannotRun("expression %r: unexpected %r" % (text, t))
        if t not in names:
            raise CannotRun("expression %r names %r, which no @let or @poll bound" % (text, t))
        return names[t]

    def binary(sub, ops):
        v = sub()
        while peek() in ops:
            op = take()
            w = sub()
            v = {"<<": lambda: v << w, ">>": lambda: v >> w, "&": lambda: v & w, "|": lambda: v | w}[op]()
        return v

    def shift():
        return binary(atom, ("<<", ">>"))

    def bits_and():
        return binary(shift, ("&",))

    def bits_or():
        return binary(bits_and, ("|",))

    def compare():
        v = bits_or()
        if peek() in COMPARE:
            op = take()
            return COMPARE[op](v, bits_or())
        return v

    def both():
        v = compare()
        while peek() == "and":
            take()
            w = compare()
            v = bool(v) and bool(w)
        return v

    def either():
        v = both()
        while peek() == "or":
            take()
            w = both()
            v = bool(v) or bool(w)
        return v

    value = either()
    if peek() is not None:
        raise CannotRun("expression %r: unexpected %r" % (text, peek()))
    return value


def names_in(text):
    return [t for t in tokenize(text) if t[0].isalpha() and t not in ("and", "or")]


# ---- QEMU over -qtest stdio ------------------------------------------------------------------

class Qemu:
    def __init__(self, argv, verbose):
        self.verbose = verbose
        self.stderr_tail = []
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as e:
            raise CannotRun("cannot start %s: %s" % (argv[0], e))
        self.buffer = b""
        self.stderr_reader = threading.Thread(target=self._collect_stderr, daemon=True)
        self.stderr_reader.start()

    def _collect_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self.stderr_tail = (self.stderr_tail + [line])[-8:]

    def _gone(self, doing):
        code = self.proc.poll()
        if code is not None:
            self.stderr_reader.join(1.0)  # its last words, before they are quoted
        what = "QEMU exited with code %s" % code if code is not None else "QEMU stopped answering"
        tail = "; QEMU's last output: " + " | ".join(self.stderr_tail) if self.stderr_tail else ""
        return CannotRun("%s %s%s" % (what, doing, tail))

    def _reply_line(self, cmd):
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.proc.stdout], [], [], REPLY_TIMEOUT_S)
            if not ready:
                raise self._gone("(no reply to %r within %.0f s)" % (cmd, REPLY_TIMEOUT_S))
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                self.proc.wait()
                raise self._gone("while waiting for the reply to %r" % cmd)
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode("latin-1").rstrip("\r")

    def command(self, cmd):
        """Sends one command; returns what follows OK. A refusal cannot be a verdict: CannotRun."""
        try:
            self.proc.stdin.write((cmd + "\n").encode("latin-1"))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.proc.wait()
            raise self._gone("before %r could be sent" % cmd)
        while True:
            reply = self._reply_line(cmd)
            if not reply.startswith("IRQ"):
                break
        if self.verbose:
            print("  %s -> %s" % (cmd[:100], reply[:100]), file=sys.stderr)
        if reply == "OK":
            return ""
        if reply.startswith("OK "):
            return reply[3:]
        raise CannotRun("qtest refused %r: %s" % (cmd[:100], reply))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def reply_value(cmd, reply):
    """A reply as a number: `read`'s bytes are little-endian, as guest memory holds them."""
    try:
        if cmd.split()[0] == "read":
            return int.from_bytes(bytes.fromhex(reply[2:] if reply.startswith("0x") else reply), "little")
        return int(reply, 0)
    except (ValueError, IndexError):
        raise CannotRun("the reply %r to %r is not a number" % (reply, cmd))


# ---- the script ------------------------------------------------------------------------------

def header_value(lines, key):
    for line in lines:
        m = re.match(r"#\s*%s:\s*(.*)$" % re.escape(key), line)
        if m:
            return m.group(1).strip()
    return None


def firmware_args(script_path, lines, args, scratch):
    """The firmware image the command line names (NAME SIZE BYTE): the one beside the script if
    it is there, else made in `scratch` (nothing is written beside the script)."""
    spec = header_value(lines, "firmware")
    if spec is None:
        return args
    try:
        name, size, byte, *head = spec.split()
        size, byte = int(size, 0), int(byte, 0)
        head = bytes.fromhex(head[0]) if head else b""
        if len(head) > size:
            raise ValueError
    except ValueError:
        raise CannotRun("bad firmware header %r (expected NAME SIZE FILL [HEAD_HEX])" % spec)
    path = os.path.join(os.path.dirname(os.path.abspath(script_path)), name)
    if not (os.path.exists(path) and os.path.getsize(path) == size):
        path = os.path.join(scratch, name)
        with open(path, "wb") as f:
            f.write(head + bytes([byte]) * (size - len(head)))
    return [path if a == name else a for a in args]


def run(script_path, qemu, extra, verbose, poll_floor):
    with open(script_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    qemu_args = header_value(lines, "qemu-args")
    if qemu_args is None:
        raise CannotRun("%s has no '# qemu-args:' header" % script_path)
    with tempfile.TemporaryDirectory(prefix="qtest-reproducer-") as scratch:
        argv = [qemu] + firmware_args(script_path, lines, shlex.split(qemu_args), scratch) + extra + ["-qtest", "stdio"]
        return run_commands(argv, lines, verbose, poll_floor)


def poll(vm, rounds, until, cmds, names, floor):
    """Sends `cmds` until `until` holds: at least `rounds` rounds and `floor` seconds, then gives up."""
    started, done = time.monotonic(), 0
    while True:
        for i, c in enumerate(cmds):
            names["r%d" % i] = reply_value(c, vm.command(c))
        if evaluate(until, names):
            return
        done += 1
        if done >= rounds:
            if time.monotonic() - started >= floor:
                raise CannotRun("the poll never finished after %d rounds and %.1f s" % (done, time.monotonic() - started))
            time.sleep(POLL_PAUSE_S)


def run_commands(argv, lines, verbose, poll_floor):
    rule, op, names, failures = "?", "(before the first op)", {}, []
    vm = Qemu(argv, verbose)
    try:
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                if text.startswith("@rule "):
                    rule = text[6:].strip()
                elif text.startswith("@op "):
                    op = text[4:].strip()
                elif text.startswith("@let "):
                    m = re.match(r"@let\s+([a-z][a-z0-9_]*)\s*=\s*(.+)$", text)
                    if not m:
                        raise CannotRun("malformed @let")
                    names[m.group(1)] = reply_value(m.group(2), vm.command(m.group(2)))
                elif text.startswith("@poll "):
                    m = re.match(r"@poll\s+(\d+)\s+until\s+([^:]+):\s*(.+)$", text)
                    if not m:
                        raise CannotRun("malformed @poll")
                    cmds = [c.strip() for c in m.group(3).split(";") if c.strip()]
                    poll(vm, int(m.group(1)), m.group(2), cmds, names, poll_floor)
                elif text.startswith("@expect "):
                    m = re.match(r'@expect\s+"((?:[^"\\]|\\.)*)"\s+(.+)$', text)
                    if not m:
                        raise CannotRun("malformed @expect")
                    if not evaluate(m.group(2), names):
                        seen = ", ".join("%s=0x%x" % (n, names[n]) for n in dict.fromkeys(names_in(m.group(2))))
                        failures.append("%s does not hold [%s]: observed %s" % (m.group(1), m.group(2), seen))
                elif text.startswith("@"):
                    raise CannotRun("unknown directive %r" % text.split()[0])
                else:
                    vm.command(text)
            except CannotRun as e:
                raise CannotRun("line %d (op %s): %s" % (number, op, e))
    finally:
        vm.close()
    if failures:
        print("REPRODUCED %s at op %s: %s" % (rule, op, "; ".join(failures)))
        return 1
    print("PASS %s: every assertion holds (the last op was %s)" % (rule, op))
    return 0


def main(argv):
    args, extra = list(argv), []
    if "--" in args:
        extra = args[args.index("--") + 1:]
        args = args[:args.index("--")]
    verbose = "-v" in args
    args = [a for a in args if a != "-v"]
    poll_floor = POLL_FLOOR_S
    if "--poll-seconds" in args:
        at = args.index("--poll-seconds")
        try:
            poll_floor = float(args[at + 1])
        except (IndexError, ValueError):
            args = []
        else:
            del args[at:at + 2]
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        return run(args[0], args[1], extra, verbose, poll_floor)
    except CannotRun as e:
        print("CANNOT RUN %s: %s" % (args[0], e))
        return 2
    except OSError as e:
        print("CANNOT RUN %s: %s" % (args[0], e))
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
