"""torch: Keras 3 on its PyTorch backend (``KERAS_BACKEND=torch``), on the GPU where PyTorch sees one."""

from analysis.speed.runtimes import Runtime, register


def _cuda():
    import torch

    return torch.cuda.is_available()


def device():
    """``cpu``, or the name of the GPU PyTorch runs on."""
    import torch

    return torch.cuda.get_device_name(0) if _cuda() else "cpu"


def load(model, shape, threads, precision):
    """``run(x)``: one batch through ``model`` under ``torch.inference_mode``, synchronised on a GPU."""
    import torch

    synchronise = _cuda()

    def run(x):
        with torch.inference_mode():
            out = model(x, training=False)
        if synchronise:
            torch.cuda.synchronize()
        return out

    return run


def to_tensor(x):
    """``x`` as a tensor of Keras' PyTorch backend (on its device), made once before the timed calls."""
    from nets.backend import keras

    return keras.ops.convert_to_tensor(x)


RUNTIME = register(Runtime(
    name="torch", precisions=("fp32",), packages=("torch",), distribution="torch", backend="torch", load=load,
    to_input=to_tensor, device=device, summary="the Keras network on Keras' PyTorch backend"))
