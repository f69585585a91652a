#!/usr/bin/python3
"""A small GTK window that offers one file for dragging, as a file manager would.

Usage: drag_source.py FILE X Y
It shows a button at screen position (X, Y); pressing on it and moving starts a drag that
carries FILE as a text/uri-list. The end-to-end test drives it with xdotool.
"""
import sys

import gi

gi.require_version("Gdk", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import Gdk, Gtk  # noqa: E402

path, x, y = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
uri = "file://" + path

window = Gtk.Window(title="precis-drag-source")
window.set_default_size(200, 120)
window.move(x, y)
button = Gtk.Button(label="Drag this article")
button.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
button.drag_source_add_uri_targets()


def on_drag_data_get(_widget, _context, data, _info, _time):
    data.set_uris([uri])


button.connect("drag-data-get", on_drag_data_get)
window.add(button)
window.connect("destroy", Gtk.main_quit)
window.show_all()
print("ready", flush=True)
Gtk.main()
