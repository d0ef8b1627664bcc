using System.Buffers;

namespace AgentPlatform.Router.Forwarding;

/// <summary>
/// A pooled buffer an answer is read through: bytes held from the front, room to read into after them.
/// While it holds nothing it can give its array back (<see cref="Release"/>) and rents one again when
/// next read into.
/// </summary>
internal sealed class AnswerBuffer(int size) : IDisposable
{
    private byte[] _bytes = ArrayPool<byte>.Shared.Rent(size);

    /// <summary>Bytes held, from the start of the buffer.</summary>
    public int Count { get; set; }

    public bool IsFull => Count == _bytes.Length && Count > 0;

    public Memory<byte> Held => _bytes.AsMemory(0, Count);

    public Memory<byte> Free
    {
        get
        {
            if (_bytes.Length == 0)
            {
                _bytes = ArrayPool<byte>.Shared.Rent(size);
            }
            return _bytes.AsMemory(Count);
        }
    }

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

    /// <summary>Gives the array back to the pool if nothing is held (a stream waiting for its next event needs none).</summary>
    public void Release()
    {
        if (Count == 0)
        {
            ReturnArray();
        }
    }

    public void Dispose() => ReturnArray();

    private void ReturnArray()
    {
        if (_bytes.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_bytes);
            _bytes = [];
        }
    }
}
