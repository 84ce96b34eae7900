"""Backends: the IR lowered to an executable form (torch for training, ONNX for shipping).

Each backend is imported on its own (`netlang.backends.torch_module`, ...) so that importing this
package pulls in no heavy dependency. May import diagnostics, ir and ops (never semantics:
backends read only the IR); torch in the torch modules, onnx in the ONNX ones.
"""
