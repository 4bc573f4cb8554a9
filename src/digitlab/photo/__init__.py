"""Reading photos: any picture of ink (a phone photo, a scan, a drawing) made into clean 28x28
MNIST-style digits, and rows of them. ``preprocess`` is the entry point."""
