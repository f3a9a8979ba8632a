"""facematch: suggest candidate faces from a photo archive for a person to review.

The library is the product; the CLI (and later the Streamlit app) are thin layers over it.
Nothing here ever calls a candidate a match: only a person's confirmation makes one.
"""

import os as _os
import warnings as _warnings

# onnxruntime (1.32 on Linux) writes a device id under ~/.cache/Microsoft and queues a "ProcessInfo"
# event (device id, OS, CPU, memory, Python path) for upload to Microsoft unless this is set before
# it initialises. facematch promises no network and no traces outside the index: force it off.
_os.environ["ORT_DISABLE_TELEMETRY"] = "1"
# OpenCV's DNN prints a harmless warning per model load; keep the console for what users need to read.
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
# insightface's norm_crop uses a scikit-image call deprecated in 0.26; the result is unchanged.
_warnings.filterwarnings("ignore", category=FutureWarning, module=r"insightface\.utils\.face_align")

__version__ = "0.1.0"
