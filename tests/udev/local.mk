# tests/udev: checks of the udev rules, the systemd user unit and the D-Bus service file.
