"""Sessions: sign-in state, the keyring vault, who refreshes tokens when."""
