"""The recorder: BTF offsets, program loader, ring consumer, decoder, snapshot, writer."""
