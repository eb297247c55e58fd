"""Users and passwords: userlist sections, crypt(3) hashes, HTTP Basic credentials."""
