using System.Buffers;
using System.Text.Json;

namespace AgentPlatform.Router.Providers;

/// <summary>
/// A JSON answer read whole from the provider and rewritten in one go (a message to a completion, an
/// error to the door's shape); read like the provider's stream, so the Router's timeouts still apply.
/// </summary>
/// <param name="unreadableError">
/// For an error answer: how to pass on one that is not JSON (the door's error, with the start of its text).
/// Without it, an answer that is not JSON fails the attempt.
/// </param>
internal sealed class TranslatedJsonStream(
    Stream inner, Action<IBufferWriter<byte>, JsonElement> translate, Action<IBufferWriter<byte>, string>? unreadableError = null) : ReadOnlyStream
{
    /// <summary>No provider answer is near this; a larger one is not a chat answer.</summary>
    private const int MaxAnswerBytes = 16 * 1024 * 1024;

    private ReadOnlyMemory<byte> _translated;
    private bool _translatedYet;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_translatedYet)
        {
            var answer = new ArrayBufferWriter<byte>(4096);
            int read;
            while ((read = await inner.ReadAsync(answer.GetMemory(4096), cancellationToken)) > 0)
            {
                answer.Advance(read);
                if (answer.WrittenCount > MaxAnswerBytes)
                {
                    throw new IOException($"The provider's answer is larger than {MaxAnswerBytes} bytes.");
                }
            }
            var output = new ArrayBufferWriter<byte>(answer.WrittenCount + 256);
            try
            {
                using var document = JsonDocument.Parse(answer.WrittenMemory);
                translate(output, document.RootElement);
            }
            catch (JsonException) when (unreadableError is not null)
            {
                output.ResetWrittenCount();
                unreadableError(output, $"The provider answered: {System.Text.Encoding.UTF8.GetString(answer.WrittenSpan[..Math.Min(answer.WrittenCount, 500)])}");
            }
            catch (JsonException exception)
            {
                throw new IOException("The provider's answer is not valid JSON.", exception);
            }
            _translated = output.WrittenMemory;
            _translatedYet = true;
        }
        var count = Math.Min(buffer.Length, _translated.Length);
        _translated[..count].CopyTo(buffer);
        _translated = _translated[count..];
        return count;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
