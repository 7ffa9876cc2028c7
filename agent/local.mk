# placeholder: filled by the owner of agent/
