"""Reading captures back: the reader, event views, and the info/print commands."""
