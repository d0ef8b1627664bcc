using System.Buffers;

namespace AgentPlatform.Router.Forwarding;

/// <summary>A pooled buffer an answer is read through: bytes held from the front, room to read into after them.</summary>
internal sealed class AnswerBuffer(int size) : IDisposable
{
    private byte[] _bytes = ArrayPool<byte>.Shared.Rent(size);

    /// <summary>Bytes held, from the start of the buffer.</summary>
    public int Count { get; set; }

    public bool IsFull => Count == _bytes.Length;

    public Memory<byte> Held => _bytes.AsMemory(0, Count);

    public Memory<byte> Free => _bytes.AsMemory(Count);

    /// <summary>Doubles the buffer, keeping what it holds, unless that would pass <paramref name="maxSize"/>.</summary>
    public bool TryGrow(int maxSize)
    {
        if (_bytes.Length * 2 > maxSize)
        {
            return false;
        }
        var larger = ArrayPool<byte>.Shared.Rent(_bytes.Length * 2);
        Held.Span.CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_bytes);
        _bytes = larger;
        return true;
    }

    /// <summary>Drops the first <paramref name="count"/> bytes, moving the rest to the front.</summary>
    public void Consume(int count)
    {
        _bytes.AsSpan(count, Count - count).CopyTo(_bytes);
        Count -= count;
    }

    public void Dispose() => ArrayPool<byte>.Shared.Return(_bytes);
}
