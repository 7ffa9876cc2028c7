# placeholder: filled by the owner of tests/enroll/
