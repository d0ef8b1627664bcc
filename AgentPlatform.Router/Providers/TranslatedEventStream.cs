using System.Buffers;
using System.Text.Json;

namespace AgentPlatform.Router.Providers;

/// <summary>
/// A provider's server-sent events read and rewritten in another API's events as they come: whole events
/// are handed to <see cref="Translate"/> (their <c>data:</c> line), which writes to <see cref="Output"/>.
/// Reads pass their cancellation to the provider's stream, so the Router's idle timeout still applies.
/// </summary>
internal abstract class TranslatedEventStream(Stream inner) : ReadOnlyStream
{
    private const int ReadSize = 16 * 1024;

    private byte[] _events = ArrayPool<byte>.Shared.Rent(ReadSize);
    private int _eventBytes;
    private int _translatedRead;
    private bool _innerEnded;

    /// <summary>What the events said in the other API, not yet read.</summary>
    protected ArrayBufferWriter<byte> Output { get; } = new(ReadSize);

    /// <summary>One writer for the stream's JSON, reset onto <see cref="Output"/> for each event.</summary>
    protected Utf8JsonWriter Writer { get; } = new(Stream.Null);

    /// <summary>One event's data (after <c>data:</c>, trimmed); an event without data is not handed on.</summary>
    protected abstract void Translate(ReadOnlySpan<byte> data);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (_translatedRead == Output.WrittenCount)
        {
            if (_innerEnded)
            {
                return 0;
            }
            Output.ResetWrittenCount();
            _translatedRead = 0;
            if (_eventBytes == _events.Length)
            {
                Grow();
            }
            var read = await inner.ReadAsync(_events.AsMemory(_eventBytes), cancellationToken);
            if (read == 0)
            {
                _innerEnded = true; // a stream that ends before its last event is left without one
                break;
            }
            _eventBytes += read;
            TranslateCompleteEvents();
        }
        var count = Math.Min(buffer.Length, Output.WrittenCount - _translatedRead);
        Output.WrittenSpan.Slice(_translatedRead, count).CopyTo(buffer.Span);
        _translatedRead += count;
        return count;
    }

    private void TranslateCompleteEvents()
    {
        var start = 0;
        while (true)
        {
            var rest = _events.AsSpan(start, _eventBytes - start);
            var end = rest.IndexOf("\n\n"u8);
            if (end < 0)
            {
                break;
            }
            var lines = rest[..end];
            foreach (var range in lines.Split((byte)'\n'))
            {
                var line = lines[range].TrimEnd((byte)'\r');
                if (line.StartsWith("data:"u8))
                {
                    Translate(line[5..].Trim((byte)' '));
                }
            }
            start += end + 2;
        }
        _events.AsSpan(start, _eventBytes - start).CopyTo(_events);
        _eventBytes -= start;
    }

    private void Grow()
    {
        var larger = ArrayPool<byte>.Shared.Rent(_events.Length * 2);
        _events.AsSpan(0, _eventBytes).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_events);
        _events = larger;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            ArrayPool<byte>.Shared.Return(_events);
            _events = [];
            Writer.Dispose();
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
