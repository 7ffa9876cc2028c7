#!/usr/bin/python3
# tests/ui/rig-window.py: the rig's self-test window (tests/ui/test-rig.sh):
# a GTK 4 + libadwaita window with a text field, a password field, a button
# and a label, each with a stable accessible name, as signet-gtk names its
# widgets. "Greet" writes "Hello, NAME (N characters of secret)" into the
# label "Greeting"; "Hide" hides the button "Greet" and the label shows
# "hidden". The secret itself is never shown or printed.
import sys

import gi

gi.require_version("Gtk", "4.0")
gi.require_version("Adw", "1")
from gi.repository import Adw, Gtk  # noqa: E402

A11Y_LABEL = Gtk.AccessibleProperty.LABEL


def named(widget, name):
    widget.update_property([A11Y_LABEL], [name])
    return widget


def on_activate(app):
    win = Adw.ApplicationWindow(application=app, title="Signet rig self-test")
    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
    name = named(Gtk.Entry(), "Name")
    secret = named(Gtk.PasswordEntry(), "Secret")
    greet = Gtk.Button(label="Greet")
    hide = Gtk.Button(label="Hide")
    label = named(Gtk.Label(label="nothing yet"), "Greeting")

    def on_greet(_b):
        label.set_text("Hello, %s (%d characters of secret)" % (name.get_text(), len(secret.get_text())))
        secret.set_text("")

    def on_hide(_b):
        greet.set_visible(False)
        label.set_text("hidden")

    greet.connect("clicked", on_greet)
    hide.connect("clicked", on_hide)
    for w in (name, secret, greet, hide, label):
        box.append(w)
    win.set_content(box)
    win.present()


app = Adw.Application(application_id="io.signet.RigSelfTest")
app.connect("activate", on_activate)
sys.exit(app.run([sys.argv[0]]))
