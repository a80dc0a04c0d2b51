"""HTTP helpers shared by the app and the channels."""
