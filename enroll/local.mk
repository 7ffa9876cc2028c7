# placeholder: filled by the owner of enroll/
