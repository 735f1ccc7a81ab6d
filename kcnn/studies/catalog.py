"""What each study checks: the claim, where the notes make it (file and quoted text) and
the module that measures it. Plain data, so command lines list the studies without
importing Keras or TensorFlow.

The quotes are the notes' text as scraped (``/work/shared/notes``); symbols the scraper
lost (``|x|10`` is "|x| > 10", ``11+e(x)`` is 1 / (1 + e^-x)) are left as they are.
"""

from __future__ import annotations

import dataclasses
import difflib

__all__ = ["Study", "STUDIES", "study", "study_names"]


@dataclasses.dataclass(frozen=True)
class Study:
    name: str
    item: int  # issue 13's item number
    claim: str
    source: str  # note file
    quote: str  # the notes' words
    module: str  # kcnn.studies.<module> with run(quick=, output_dir=, seed=) -> dict


_N000 = "000_87d09dfec54b315d.txt"
_N001 = "001_c848e77c55dc1fef.txt"
_N002 = "002_23ecdafbb88563bd.txt"
_N003 = "003_060417c4fc3e7e96.txt"

STUDIES = {
    s.name: s
    for s in (
        Study(
            "activations",
            1,
            "sigmoid saturates (gradient ~0 for |x| > 10); ReLU converges about 6x faster than saturating units",
            _N000,
            "Sigmoid : f(x)=11+e(x) 函数很容易饱和,|x|10 梯度近似于0 … "
            "ReLU:f(x)=max{0,x} 收敛快(相比Sigmoid 大致提高6倍),求梯度简单,但比较脆弱",
            "activations",
        ),
        Study(
            "initialization",
            2,
            "weights drawn as randn * 0.01 make deep activations vanish; Xavier suits tanh, He suits ReLU",
            _N000,
            "W = np.random.randn(m,n)*0.01 … 权重W的取值过小,会导致深层的激励为0 Xavier Initialization: … "
            "W = np.random.randn(fan_in,fan_out)/np.sqrt(fan_in) ReLU activation function: … "
            "W = np.random.randn(node_in, node_out) / np.sqrt(node_in / 2)",
            "initialization",
        ),
        Study(
            "batchnorm",
            3,
            "batch normalization lowers the dependence on initialization and tolerates higher learning rates",
            _N000,
            "Batch normalization 的好处 … 2. 学习率设高一点也没关系 3. 对初始值的依赖减少了!!!",
            "batchnorm",
        ),
        Study(
            "preprocessing",
            4,
            "subtract the training mean; do not standardize or PCA-whiten images",
            _N000,
            "CNN训练图像数据预处理: 去均值,但是不要做标准化、PCA白化 "
            "均值是训练集样本数据的均值,训练集和测试集均需要减去训练集样本均值。",
            "preprocessing",
        ),
        Study(
            "regularization",
            5,
            "mirror augmentation and dropout reduce overfitting (the train/test gap)",
            _N000 + "; " + _N003,
            "采样一个batch 数据(如32张图片,可以做镜像对称) [000]; "
            "Dropout层 … 训练过程中,随机丢弃一部分输入 … 缓解过拟合问题 [003]",
            "regularization",
        ),
        Study(
            "small_kernels",
            6,
            "stacked 3x3 convolutions see what one 5x5 or 7x7 sees with fewer weights (18 vs 25, 27 vs 49 per "
            "channel pair) and less computation, to the same effect",
            _N003 + "; " + _N001,
            "若使用5*5卷积核进行卷积,有5*5=25个参数;若使用2个3*3卷积核进行卷积,有3*3*2=18个参数,减少了7个参数,"
            "但最后得到的效果一致 总结:使用更小的卷积核代替大卷积核可以减少计算量,加深网络 [003]; "
            "3个 3*3 的卷积层串联相当于1个 7*7 的卷积层 … 但是3个 3*3 的卷积层参数量只有 7*7 的一半左右 [001]",
            "small_kernels",
        ),
        Study(
            "reductions",
            7,
            "a 1x1 convolution in front of a large one cuts the computation about tenfold (120,422,400 vs "
            "12,443,648 multiplications in the notes' example; the notes print 12,433,648)",
            _N002,
            "那么一共要5*5*32*192*28*28=120_422_400 … "
            "那么运算量会变为1*1*28*28*192*16 + 5*5*28*28*16*32=12_433_648 可见,降低了1/10的运算量",
            "reductions",
        ),
        Study(
            "depth",
            8,
            "deeper plain networks train worse; with shortcuts depth no longer hurts",
            _N001 + "; " + _N003,
            "随着模型层数的增加,分类性能并没有提高,反而收敛速度越来越慢 … ResNet … 大大增加了网络的深度 … "
            "并且分类性能并未下降 [001]; 跳连结构解决网络梯度消失问题 [003]",
            "depth",
        ),
        Study(
            "minibatch",
            9,
            "full-batch GD is slow to converge; per-example SGD converges slower still but trains a good model; "
            "mini-batches combine both",
            _N002,
            "Batch梯度下降 BGD … 计算量大,收敛速度慢,训练的模型一般 - 随机梯度下降 SGD … "
            "收敛速度比batch还要慢,还遇到鞍点问题;但是训练的模型好。 … 综合两者DataLoader——MINI-Batch",
            "minibatch",
        ),
        Study(
            "finetune",
            10,
            "fine-tuning a network pretrained on related data beats training from scratch on a small set",
            _N000,
            "Keywords: … fine tuning … Fine tuning: [the figure that illustrated it was not scraped]",
            "finetune",
        ),
        Study(
            "saddle",
            11,
            "the Hessian's eigenvalues tell a critical point's kind: all positive a local minimum, mixed signs a "
            "saddle point, which gradient descent can escape",
            _N002,
            "是否可以逃离:可以逃离的是鞍点,逃不掉的是局部最优解 … Hessian的所有特征值均大于0:local minima … "
            "Hessian的特征值有时候大于0,有时候小于0:saddle point",
            "saddle",
        ),
    )
}


def study_names() -> list[str]:
    return sorted(STUDIES, key=lambda n: STUDIES[n].item)


def study(name: str) -> Study:
    """The catalog entry for ``name``; an unknown name raises ValueError naming the closest ones."""
    try:
        return STUDIES[name]
    except KeyError:
        close = difflib.get_close_matches(name, STUDIES, n=3, cutoff=0.5)
        hint = f"closest: {', '.join(close)}" if close else f"studies: {', '.join(study_names())}"
        raise ValueError(f"unknown study {name!r}; {hint}") from None
