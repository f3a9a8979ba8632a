"""facematch: suggest candidate faces from a photo archive for a person to review.

The library is the product; the CLI (and later the Streamlit app) are thin layers over it.
Nothing here ever calls a candidate a match: only a person's confirmation makes one.
"""

import os as _os
import warnings as _warnings

# OpenCV's DNN prints a harmless warning per model load; keep the console for what users need to read.
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
# insightface's norm_crop uses a scikit-image call deprecated in 0.26; the result is unchanged.
_warnings.filterwarnings("ignore", category=FutureWarning, module=r"insightface\.utils\.face_align")

__version__ = "0.1.0"
