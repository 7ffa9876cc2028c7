#!/usr/bin/python3
# tests/ui/atspi-driver.py: drives a running GTK 4 window through the
# accessibility tree (AT-SPI, Debian's python3-pyatspi), for the end-to-end
# tests of signet-gtk (tests/ui/ui-lib.sh wraps it as `ui`).
#
#   atspi-driver.py [--app NAME] [--timeout S] COMMAND ARGS...
#
# The application is found by its name on the AT-SPI desktop (--app, default
# $UI_APP); every lookup polls (every 100 ms) until it succeeds or --timeout
# seconds (default $UI_TIMEOUT, else 60) have passed: nothing here sleeps a
# fixed time. A widget is named by its accessible name, exactly, or by a
# regular expression as re:PATTERN (searched, case-sensitive); --role ROLE
# (an AT-SPI role name as pyatspi prints it: "push button", "label", "text",
# "password text", "check box", "list item", ...) narrows the search, and
# --in SCOPE searches only under the window named SCOPE (a dialog), else
# under the first widget named SCOPE; --near ANCHOR only under the nearest
# ancestor of the widget ANCHOR that holds a match (the "PIN" field beside
# the button "Start activation", not the one of the renewal page).
# With several matches the first in tree order is taken (--nth N for
# another).
#
# What GTK 4.8 tells through AT-SPI (measured): a hidden widget
# (gtk_widget_set_visible FALSE) is not in the tree at all; every page of a
# GtkStack or AdwLeaflet is, the pages not on screen included, all with the
# states "visible" and not "showing" (only windows have "showing"), and
# their extents keep the last allocation. So a test tells pages apart by
# names or by --in with the page's name, never by states or positions. A
# GtkLabel's accessible name is its text once the text changes
# (gtk_label_set_text sets the label property): a label named in a template
# ("Result") is found by that name only until its text is first set; find
# such a text with wait-any, --in its window.
# Component.getExtents in screen coordinates also makes GTK warn (fatal
# under G_DEBUG=fatal-warnings): this driver never calls it.
#
# Commands (exit 0 on success, 1 on failure with the reason and, for a
# lookup that timed out, the application's tree on stderr; 2 for bad usage):
#   wait-app                  the application is on the desktop with a window
#   app-gone                  the application is no longer on the desktop
#   find NAME                 a widget is there (prints role and name)
#   gone NAME                 no such widget is there (any more)
#   select NAME               select the widget in its parent (the parent's
#                             Selection: a GtkListBox row, which has no action)
#   click NAME                run the widget's first action (click, activate,
#                             press, toggle: whichever it has, in that order)
#   type NAME TEXT            set a text field's contents (EditableText);
#                             TEXT "-" reads one line from stdin, so that a
#                             PIN is never on a command line
#   text NAME                 print the widget's text (Text interface), else
#                             its accessible name
#   wait-text NAME REGEX      until the widget's text matches REGEX (search)
#   wait-any REGEX            until some widget's text or name matches
#                             REGEX; prints the role, name and text
#   texts                     print every widget's role, name and text, one
#                             a line (tab-separated)
#   state NAME                print the widget's states (sensitive, checked, ...)
#   wait-state NAME STATE     until the widget has STATE (e.g. sensitive);
#                             !STATE: until it has not
#   keys SCOPE TEXT           type TEXT on the keyboard (XTest, through
#                             AT-SPI's generateKeyboardEvent), once a widget
#                             under the window or widget SCOPE has the
#                             keyboard focus: what a person does where no
#                             widget is accessible (GTK 4.8's file chooser
#                             lists files in a GtkTreeView that AT-SPI does
#                             not show; a typed "/" opens its location
#                             field); TEXT "-" reads one line from stdin
#   press KEY                 press and release KEY (an X keysym name:
#                             Return, Escape, Tab) on the keyboard
#   count NAME                print how many widgets match (no wait)
#   dump                      print the application's whole tree
#   windows                   print the application's windows, one a line
#   apps                      print the applications on the desktop
import argparse
import os
import re
import sys
import time

import pyatspi

POLL = 0.1
# How many times one command starts itself again (Lookup.renew_process).
MAX_RESTARTS = 10
# The keys `press` knows: X keysyms.
KEYSYMS = {"Return": 0xFF0D, "Escape": 0xFF1B, "Tab": 0xFF09}


class Lookup:
    def __init__(self, args):
        self.app_name = args.app or os.environ.get("UI_APP", "")
        self.timeout = args.timeout
        self.role = args.role
        self.scope = args.scope
        self.near = args.near
        self.nth = args.nth
        self.lost = False  # libatspi lost the application (renew_process)
        self.stdin_line = None  # what `type -` or `keys -` read

    def read_line(self):
        self.stdin_line = sys.stdin.readline().rstrip("\n")
        return self.stdin_line

    # --- the application ------------------------------------------------------
    def app(self):
        # A test of this driver (tests/ui/test-rig.sh) makes the first
        # process lose the application, as libatspi does (renew_process).
        if os.environ.get("UI_DRIVER_LOSE_ONCE") and not os.environ.get("UI_DRIVER_RESTARTS"):
            self.lost = True
            return None
        desktop = pyatspi.Registry.getDesktop(0)
        for i in range(desktop.childCount):
            try:
                a = desktop.getChildAtIndex(i)
                if a is not None and a.name == self.app_name:
                    return a
            except Exception:
                # Seen: "The application no longer exists" (renew_process).
                self.lost = True
                continue
        return None

    # --- matching ---------------------------------------------------------------
    @staticmethod
    def name_matcher(name):
        if name.startswith("re:"):
            pat = re.compile(name[3:])
            return lambda s: s is not None and pat.search(s) is not None
        return lambda s: s == name

    @staticmethod
    def showing(acc):
        try:
            return acc.getState().contains(pyatspi.STATE_VISIBLE)
        except Exception:
            return False

    def walk(self, acc):
        """Every visible node under acc (acc included), depth first; a node
        not visible hides its subtree."""
        stack = [acc]
        while stack:
            node = stack.pop()
            if node is None:
                continue
            try:
                role = node.getRoleName()
            except Exception:
                continue
            if role not in ("application",) and not self.showing(node):
                continue
            yield node
            # A child that went (a file chooser just destroyed) fails alone.
            kids = []
            try:
                n = node.childCount
            except Exception:
                n = 0
            for i in range(n):
                try:
                    kids.append(node.getChildAtIndex(i))
                except Exception:
                    continue
            stack.extend(reversed(kids))

    def root(self):
        a = self.app()
        if a is None or not self.scope:
            return a
        m = self.name_matcher(self.scope)
        # A window (a dialog) by that name first, then any widget.
        try:
            for i in range(a.childCount):
                w = a.getChildAtIndex(i)
                if w is not None and m(w.name):
                    return w
        except Exception:
            pass
        for node in self.walk(a):
            try:
                if m(node.name):
                    return node
            except Exception:
                continue
        return None

    def matches(self, name):
        a = self.root()
        if a is None:
            return []
        if not self.near:
            return self.matches_under(a, name)
        # --near ANCHOR: under the nearest ancestor of ANCHOR that holds a match.
        am = self.name_matcher(self.near)
        anchor = next((n for n in self.walk(a) if name_matches(n, am)), None)
        while anchor is not None:
            found = self.matches_under(anchor, name)
            if found:
                return found
            try:
                anchor = anchor.parent
            except Exception:
                return []
            if anchor is None or anchor.getRoleName() in ("application", "desktop frame"):
                return []
        return []

    def matches_under(self, a, name):
        m = self.name_matcher(name)
        out = []
        for node in self.walk(a):
            try:
                if not name_matches(node, m):
                    continue
                if self.role and node.getRoleName() != self.role:
                    continue
            except Exception:
                continue
            out.append(node)
        return out

    def one(self, name):
        ms = self.matches(name)
        return ms[self.nth] if len(ms) > self.nth else None

    # libatspi in this process can lose the application for good: after a
    # file chooser of it was destroyed, under load (the ASan build), every
    # call on the application object warns "g_hash_table_lookup: assertion
    # 'hash_table != NULL'" and raises "The application no longer exists",
    # while the application runs on and a new process sees it (GTK 4.8,
    # libatspi 2.46). A lookup that meets this goes on in a new process of
    # this driver, with the time left (a line `type -` or `keys -` read
    # from stdin is passed on through a pipe, never on a command line).
    def renew_process(self, deadline):
        left = deadline - time.monotonic()
        n = int(os.environ.get("UI_DRIVER_RESTARTS", "0"))
        if left <= 0 or n >= MAX_RESTARTS:
            return
        sys.stderr.write("atspi-driver: the application was lost to this process; "
                         "looking again from a new one (%.1fs left)\n" % left)
        sys.stderr.flush()
        sys.stdout.flush()
        os.environ["UI_DRIVER_RESTARTS"] = str(n + 1)
        if self.stdin_line is not None:
            r, w = os.pipe()
            os.write(w, (self.stdin_line + "\n").encode())
            os.close(w)
            os.dup2(r, 0)
            os.close(r)
        argv, rest = [], sys.argv[1:]
        while rest:
            x = rest.pop(0)
            if x == "--timeout":
                rest.pop(0)
            elif not x.startswith("--timeout="):
                argv.append(x)
        os.execv(sys.executable, [sys.executable, sys.argv[0], "--timeout", "%.3f" % left] + argv)

    def poll(self, fn, what):
        deadline = time.monotonic() + self.timeout
        while True:
            r = fn()
            if r:
                return r
            if time.monotonic() >= deadline:
                fail("timed out after %gs: %s" % (self.timeout, what), self)
            if self.lost:
                self.renew_process(deadline)
            time.sleep(POLL)

    def need(self, name):
        role = " (role %s)" % self.role if self.role else ""
        return self.poll(lambda: self.one(name), "no widget named %r%s" % (name, role))


# Roles whose name GTK 4.8 builds from two parts (measured): the accessible
# label property, then the text of the label inside (the labelled-by
# relation), joined by a space: a button labelled "Activate…" whose
# accessible label is "Activate" is named "Activate Activate…", and one with
# a mnemonic and no accessible label "_Try Again Try Again".
COMPOSED_ROLES = ("push button", "toggle button", "check box", "radio button",
                  "menu item", "list item", "panel", "combo box")


def inner_texts(acc, depth=3):
    out = []
    if depth == 0:
        return out
    try:
        for i in range(acc.childCount):
            c = acc.getChildAtIndex(i)
            if c is None:
                continue
            if c.getRoleName() == "label":
                out.append(text_of(c))
            out.extend(inner_texts(c, depth - 1))
    except Exception:
        pass
    return out


def name_matches(node, m):
    """node's accessible name matches, or, for the roles above, its first
    part (the accessible label, a mnemonic's underscore dropped)."""
    n = node.name
    if m(n):
        return True
    if not n or " " not in n:
        return False
    # A field labelled by its row's title and given the same accessible
    # label: "PIN PIN".
    h = len(n) // 2
    if len(n) % 2 == 1 and n[h] == " " and n[:h] == n[h + 1:] and m(n[:h]):
        return True
    if node.getRoleName() not in COMPOSED_ROLES:
        return False
    for t in inner_texts(node):
        if t and n.endswith(" " + t):
            first = n[: -len(t) - 1]
            if m(first) or m(first.replace("_", "")):
                return True
    return False


def text_of(acc):
    try:
        t = acc.queryText()
        return t.getText(0, t.characterCount)  # GTK 4.8: (0, -1) gives ''
    except NotImplementedError:
        return acc.name or ""
    except Exception:
        return acc.name or ""


def dump(acc, out, depth=0):
    try:
        role, name = acc.getRoleName(), acc.name
        st = acc.getState()
        flags = "".join(
            c
            for c, s in (
                ("S", pyatspi.STATE_SHOWING),
                ("V", pyatspi.STATE_VISIBLE),
                ("s", pyatspi.STATE_SENSITIVE),
                ("F", pyatspi.STATE_FOCUSED),
                ("C", pyatspi.STATE_CHECKED),
            )
            if st.contains(s)
        )
        extra = ""
        if role in ("label", "text", "entry", "heading", "paragraph"):
            extra = " text=%r" % text_of(acc)
        elif role == "password text":  # GTK 4.8 gives its text: never print it
            extra = " (%d characters)" % len(text_of(acc))
        out.write("%s%s %r [%s]%s\n" % ("  " * depth, role, name, flags, extra))
        for i in range(acc.childCount):
            dump(acc.getChildAtIndex(i), out, depth + 1)
    except Exception as e:  # a node that went away while we looked
        out.write("%s(gone: %s)\n" % ("  " * depth, e))


def fail(msg, lookup=None):
    sys.stderr.write("atspi-driver: %s\n" % msg)
    if lookup is not None and not os.environ.get("UI_NO_DUMP"):
        a = lookup.app()
        if a is None:
            names = [c.name for c in pyatspi.Registry.getDesktop(0) if c is not None]
            sys.stderr.write("atspi-driver: no application %r on the desktop; there are %r\n"
                             % (lookup.app_name, names))
        else:
            sys.stderr.write("atspi-driver: the application's tree (S showing, V visible, "
                             "s sensitive, F focused, C checked):\n")
            dump(a, sys.stderr)
    sys.exit(1)


ACTIONS = ("click", "activate", "press", "toggle")


def do_click(acc):
    try:
        act = acc.queryAction()
    except NotImplementedError:
        fail("%s %r has no actions" % (acc.getRoleName(), acc.name))
    names = [act.getName(i) for i in range(act.nActions)]
    for want in ACTIONS:
        if want in names:
            if not act.doAction(names.index(want)):
                fail("%s %r: action %r refused" % (acc.getRoleName(), acc.name, want))
            return
    if act.nActions > 0 and act.doAction(0):
        return
    fail("%s %r: no action to run (it has %r)" % (acc.getRoleName(), acc.name, names))


def main():
    p = argparse.ArgumentParser(description="Drive a GTK 4 window through AT-SPI.")
    p.add_argument("--app", help="application name on the AT-SPI desktop (default $UI_APP)")
    p.add_argument("--timeout", type=float, default=float(os.environ.get("UI_TIMEOUT", "60")))
    p.add_argument("--role", help="only widgets with this AT-SPI role name")
    p.add_argument("--in", dest="scope", help="only under the first widget with this name")
    p.add_argument("--near", help="only under the nearest ancestor of this widget that holds a match")
    p.add_argument("--nth", type=int, default=0, help="the Nth match (from 0)")
    p.add_argument("command")
    p.add_argument("args", nargs="*")
    args = p.parse_args()
    L = Lookup(args)
    c, a = args.command, args.args

    def nargs(n):
        if len(a) != n:
            sys.stderr.write("atspi-driver: %s takes %d argument(s)\n" % (c, n))
            sys.exit(2)

    if c == "apps":
        for x in pyatspi.Registry.getDesktop(0):
            if x is not None:
                print(x.name)
    elif c == "wait-app":
        nargs(0)
        L.poll(lambda: (lambda x: x is not None and x.childCount > 0)(L.app()),
               "application %r with a window" % L.app_name)
    elif c == "app-gone":
        nargs(0)
        L.poll(lambda: L.app() is None, "application %r still on the desktop" % L.app_name)
    elif c == "dump":
        x = L.poll(L.app, "application %r" % L.app_name)
        dump(x, sys.stdout)
    elif c == "windows":
        x = L.poll(L.app, "application %r" % L.app_name)
        for i in range(x.childCount):
            w = x.getChildAtIndex(i)
            print("%s\t%s" % (w.getRoleName(), w.name))
    elif c == "find":
        nargs(1)
        x = L.need(a[0])
        print("%s\t%s" % (x.getRoleName(), x.name))
    elif c == "gone":
        nargs(1)
        L.poll(lambda: L.app() is not None and not L.matches(a[0]), "%r still there" % a[0])
    elif c == "count":
        nargs(1)
        print(len(L.matches(a[0])))
    elif c == "click":
        nargs(1)
        do_click(L.need(a[0]))
    elif c == "select":
        nargs(1)
        x = L.need(a[0])
        parent = x.parent
        try:
            sel = parent.querySelection()
        except (NotImplementedError, AttributeError):
            fail("the parent of %s %r has no Selection" % (x.getRoleName(), x.name))
        if not sel.selectChild(x.getIndexInParent()):
            fail("%s %r: selection refused" % (x.getRoleName(), x.name))
    elif c == "type":
        nargs(2)
        text = L.read_line() if a[1] == "-" else a[1]
        x = L.need(a[0])
        try:
            ed = x.queryEditableText()
        except NotImplementedError:
            fail("%s %r is not editable" % (x.getRoleName(), x.name))
        if not ed.setTextContents(text):
            fail("%s %r refused the text" % (x.getRoleName(), x.name))
        # Read it back where the field shows it (a password field does not).
        if x.getRoleName() != "password text":
            L.poll(lambda: text_of(x) == text, "%r did not take the text" % a[0])
    elif c == "keys":
        nargs(2)
        text = L.read_line() if a[1] == "-" else a[1]
        scope = L.need(a[0])

        def focused():
            for node in L.walk(scope):
                try:
                    if node.getState().contains(pyatspi.STATE_FOCUSED):
                        return node
                except Exception:
                    continue
            return None
        L.poll(focused, "a widget under %r with the keyboard focus" % a[0])
        pyatspi.Registry.generateKeyboardEvent(0, text, pyatspi.KEY_STRING)
    elif c == "press":
        nargs(1)
        if a[0] not in KEYSYMS:
            sys.stderr.write("atspi-driver: press knows %s\n" % ", ".join(sorted(KEYSYMS)))
            sys.exit(2)
        pyatspi.Registry.generateKeyboardEvent(KEYSYMS[a[0]], None, pyatspi.KEY_SYM)
    elif c == "text":
        nargs(1)
        print(text_of(L.need(a[0])))
    elif c == "wait-text":
        nargs(2)
        pat = re.compile(a[1])
        last = [None]

        def ok():
            x = L.one(a[0])
            if x is None:
                return False
            last[0] = text_of(x)
            return pat.search(last[0]) is not None

        L.poll(ok, "%r's text never matched %r (last: %r)" % (a[0], a[1], last[0]))
        print(last[0])
    elif c == "wait-any":
        nargs(1)
        pat = re.compile(a[0])

        def any_match():
            x = L.root()
            if x is None:
                return None
            if L.near:  # the nearest ancestor of the anchor that holds a match
                am = L.name_matcher(L.near)
                anchor = next((n for n in L.walk(x) if name_matches(n, am)), None)
                while anchor is not None and anchor.getRoleName() != "application":
                    r = first_text(anchor)
                    if r:
                        return r
                    anchor = anchor.parent
                return None
            return first_text(x)

        def first_text(x):
            for n in L.walk(x):
                try:
                    t = text_of(n) if n.getRoleName() != "password text" else ""
                    if pat.search(t) or pat.search(n.name or ""):
                        return "%s\t%s\t%s" % (n.getRoleName(), n.name, t)
                except Exception:
                    continue
            return None

        print(L.poll(any_match, "no widget's text or name matches %r" % a[0]))
    elif c == "texts":
        x = L.poll(L.root, "application %r" % L.app_name)
        for n in L.walk(x):
            try:
                t = text_of(n) if n.getRoleName() != "password text" else "(hidden)"
                print("%s\t%s\t%s" % (n.getRoleName(), n.name, t.replace("\n", "\\n")))
            except Exception:
                continue
    elif c == "state":
        nargs(1)
        x = L.need(a[0])
        print(" ".join(sorted(pyatspi.stateToString(s) for s in x.getState().getStates())))
    elif c == "wait-state":
        nargs(2)
        neg = a[1].startswith("!")
        want = a[1].lstrip("!")

        def has():
            x = L.one(a[0])
            if x is None:
                return False
            s = [pyatspi.stateToString(s) for s in x.getState().getStates()]
            return (want in s) != neg

        L.poll(has, "%r never became %s" % (a[0], a[1]))
    else:
        sys.stderr.write("atspi-driver: unknown command %r\n" % c)
        sys.exit(2)


if __name__ == "__main__":
    main()
