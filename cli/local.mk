# placeholder: filled by the owner of cli/
