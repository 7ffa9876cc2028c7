# placeholder: filled by the owner of pkcs11/
