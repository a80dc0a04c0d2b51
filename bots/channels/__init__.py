"""The channels: one package each, all behind the contract in `bots/channels/base.py`."""
