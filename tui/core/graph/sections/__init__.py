"""accelerate's questions, grouped the way `accelerate config` asks them."""
