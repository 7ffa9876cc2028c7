#!/usr/bin/python3
"""tests/udev/udev-rules.py: a small checker and evaluator for udev rules files.

udev 252 has no `udevadm verify` (systemd 253 added it), so the test parses
Signet's rules itself, following udev(7):

  udev-rules.py syntax FILE...
      Check the grammar: lines (a trailing backslash continues one), comments,
      comma-separated KEY[{ATTR}]OP"VALUE" pairs, known keys, operators allowed
      for each key (match keys take == and !=, assignments =, +=, -=, :=),
      keys that need {ATTR}, GOTO targets that exist (after the GOTO), labels
      not used twice. Prints one line per problem, exit status 1 if any.

  udev-rules.py policy FILE...
      Signet's own rules: no RUN, PROGRAM, IMPORT{program}, OWNER, GROUP,
      MODE, NAME, SYMLINK or ATTR assignment (they must change nothing).

  udev-rules.py eval FILE [ACTION=add] [SUBSYSTEM=usb] [ENV{KEY}=VALUE]...
      Run the rules on a made-up device and print its properties afterwards
      (KEY=VALUE, sorted, TAGS as :a:b:). Matches use udev's patterns (* ?
      [...] and |-separated alternatives); ENV, TAG, GOTO and LABEL are
      evaluated, other assignments are ignored.
"""

import fnmatch
import re
import sys

MATCH_ONLY = {"ACTION", "DEVPATH", "KERNEL", "KERNELS", "SUBSYSTEM", "SUBSYSTEMS",
              "DRIVER", "DRIVERS", "ATTRS", "TAGS", "TEST", "PROGRAM", "RESULT",
              "CONST", "PARENT"}
ASSIGN_ONLY = {"OWNER", "GROUP", "MODE", "SECLABEL", "RUN", "LABEL", "GOTO",
               "IMPORT", "OPTIONS", "WAIT_FOR"}
BOTH = {"NAME", "SYMLINK", "ENV", "TAG", "ATTR", "SYSCTL"}
NEEDS_ATTR = {"ATTR", "ATTRS", "ENV", "SYSCTL", "IMPORT", "CONST", "SECLABEL"}
MAY_HAVE_ATTR = NEEDS_ATTR | {"RUN", "TEST"}
MATCH_OPS = {"==", "!="}
ASSIGN_OPS = {"=", "+=", "-=", ":="}
# No += for keys that hold one value.
SINGLE_VALUE = {"OWNER", "GROUP", "MODE", "LABEL", "GOTO", "NAME", "ATTR", "SYSCTL"}

PAIR = re.compile(r'\s*([A-Z_]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*')


def logical_lines(path):
    """(first line number, text) of each rule, continuation lines joined."""
    out = []
    buf, start = "", 0
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not buf:
                start = n
                stripped = line.strip()
                if not stripped or stripped.startswith("#"):
                    continue
            if line.endswith("\\"):
                buf += line[:-1]
                continue
            buf += line
            out.append((start, buf))
            buf = ""
    if buf:
        out.append((start, buf + "\\"))
    return out


def parse_rule(text):
    """List of (key, attr, op, value), or raise ValueError."""
    pairs = []
    pos = 0
    text = text.rstrip()
    if text.endswith("\\"):
        raise ValueError("the file ends in a continuation line")
    while pos < len(text):
        m = PAIR.match(text, pos)
        if not m:
            raise ValueError("cannot parse at column %d: %r" % (pos + 1, text[pos:pos + 30]))
        pairs.append((m.group(1), m.group(2), m.group(3), m.group(4)))
        pos = m.end()
        if pos < len(text):
            if text[pos] != ",":
                raise ValueError("expected ',' at column %d" % (pos + 1))
            pos += 1
            if not text[pos:].strip():
                raise ValueError("trailing ','")
    if not pairs:
        raise ValueError("empty rule")
    return pairs


def load(path):
    rules = []
    for n, text in logical_lines(path):
        rules.append((n, parse_rule(text)))
    return rules


def syntax(path):
    problems = []
    rules = []
    for n, text in logical_lines(path):
        try:
            rules.append((n, parse_rule(text)))
        except ValueError as e:
            problems.append("%s:%d: %s" % (path, n, e))
    labels = {}
    for n, pairs in rules:
        for key, attr, op, value in pairs:
            where = "%s:%d: %s" % (path, n, key)
            if key not in MATCH_ONLY | ASSIGN_ONLY | BOTH:
                problems.append("%s: unknown key" % where)
                continue
            # udev still takes PROGRAM="..." (a match, as ==).
            if key in MATCH_ONLY and op not in MATCH_OPS and not (key == "PROGRAM" and op == "="):
                problems.append("%s: a match key takes == or !=, not %s" % (where, op))
            if key in ASSIGN_ONLY and op not in ASSIGN_OPS:
                problems.append("%s: an assignment key takes = += -= :=, not %s" % (where, op))
            if key in SINGLE_VALUE and op in ("+=", "-="):
                problems.append("%s: %s on a single-value key" % (where, op))
            if key in NEEDS_ATTR and not attr:
                problems.append("%s: needs {attribute}" % where)
            if attr is not None and key not in MAY_HAVE_ATTR:
                problems.append("%s: takes no {attribute}" % where)
            if key == "ENV" and op in ASSIGN_OPS and not re.fullmatch(r"\.?[A-Za-z_][A-Za-z0-9_.]*", attr or ""):
                problems.append("%s: bad property name %r" % (where, attr))
            if key == "LABEL":
                if value in labels:
                    problems.append("%s: label %r already at line %d" % (where, value, labels[value]))
                labels.setdefault(value, n)
    # A GOTO jumps forward only.
    for n, pairs in rules:
        for key, attr, op, value in pairs:
            if key == "GOTO" and not (value in labels and labels[value] > n):
                problems.append("%s:%d: GOTO %r: no LABEL after it" % (path, n, value))
    return problems


FORBIDDEN = {"RUN", "PROGRAM", "OWNER", "GROUP", "MODE", "NAME", "SYMLINK", "SECLABEL", "SYSCTL"}


def policy(path):
    problems = []
    for n, pairs in load(path):
        for key, attr, op, value in pairs:
            if key in FORBIDDEN and (op in ASSIGN_OPS or key in ("RUN", "PROGRAM")):
                problems.append("%s:%d: %s: Signet's rules change no device and run nothing" % (path, n, key))
            if key == "IMPORT" and attr == "program":
                problems.append("%s:%d: IMPORT{program}: runs a program" % (path, n))
            if key == "ATTR" and op in ASSIGN_OPS:
                problems.append("%s:%d: ATTR{%s} assignment writes sysfs" % (path, n, attr))
    return problems


def pattern_match(pattern, value):
    return any(fnmatch.fnmatchcase(value, alt) for alt in pattern.split("|"))


def evaluate(path, device):
    """device: dict with ACTION, SUBSYSTEM and ENV{...} properties; returns properties."""
    props = {k[4:-1]: v for k, v in device.items() if k.startswith("ENV{")}
    props.setdefault("ACTION", device.get("ACTION", "add"))
    if "SUBSYSTEM" in device:
        props["SUBSYSTEM"] = device["SUBSYSTEM"]
    tags = []
    rules = load(path)
    i = 0
    while i < len(rules):
        _, pairs = rules[i]
        i += 1
        matched = True
        for key, attr, op, value in pairs:
            if op not in MATCH_OPS:
                continue
            if key == "ENV":
                have = props.get(attr, "")
            elif key in ("ACTION", "SUBSYSTEM"):
                have = props.get(key, "")
            elif key == "TAG":
                hit = any(pattern_match(value, t) for t in tags)
                matched = matched and (hit if op == "==" else not hit)
                continue
            else:
                raise ValueError("eval: no device data for %s" % key)
            hit = pattern_match(value, have)
            matched = matched and (hit if op == "==" else not hit)
        if not matched:
            continue
        for key, attr, op, value in pairs:
            if op in MATCH_OPS:
                continue
            if key == "ENV":
                if op == "+=" and props.get(attr):
                    props[attr] = props[attr] + " " + value
                elif op == "-=":
                    props[attr] = " ".join(w for w in props.get(attr, "").split() if w != value)
                else:
                    props[attr] = value
            elif key == "TAG":
                if op in ("=", ":="):
                    tags = [value]
                elif op == "-=":
                    tags = [t for t in tags if t != value]
                elif value not in tags:
                    tags.append(value)
            elif key == "GOTO":
                for j, (_, later) in enumerate(rules):
                    if j >= i and any(k == "LABEL" and v == value for k, _a, _o, v in later):
                        i = j
                        break
    if tags:
        props["TAGS"] = ":" + ":".join(tags) + ":"
    return props


def main(argv):
    if len(argv) < 3 or argv[1] not in ("syntax", "policy", "eval"):
        sys.stderr.write(__doc__)
        return 2
    if argv[1] in ("syntax", "policy"):
        problems = []
        for path in argv[2:]:
            try:
                problems += syntax(path) if argv[1] == "syntax" else policy(path)
            except (OSError, ValueError) as e:
                problems.append("%s: %s" % (path, e))
        for p in problems:
            print(p)
        return 1 if problems else 0
    device = {}
    for arg in argv[3:]:
        k, _, v = arg.partition("=")
        device[k] = v
    for k, v in sorted(evaluate(argv[2], device).items()):
        print("%s=%s" % (k, v))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
