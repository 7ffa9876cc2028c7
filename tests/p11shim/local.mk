# placeholder: filled by the owner of tests/p11shim/
