"""The Streamlit UI of kbchat: pages that render and call the `kbchat` core."""
