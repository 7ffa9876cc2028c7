# tests/hotplug: PC/SC hotplug tests with pcscd and the vsmartcard virtual reader.
