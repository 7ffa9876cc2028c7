# placeholder: filled by the owner of docs/
