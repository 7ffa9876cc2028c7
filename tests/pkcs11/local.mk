# placeholder: filled by the owner of tests/pkcs11/
