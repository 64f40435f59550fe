"""What chibo says and does for each member action, in platform-neutral events and replies."""
