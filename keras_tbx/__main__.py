"""``python -m keras_tbx``: same as the ``keras-tbx`` console script."""

import sys

from keras_tbx.cli import main

if __name__ == "__main__":
    sys.exit(main())
