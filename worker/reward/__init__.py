"""A campaign's preference model: a Bradley-Terry model of its own labelers' votes over features the
served pipeline already has (VAE latents, the text encoder's prompt embedding)."""
