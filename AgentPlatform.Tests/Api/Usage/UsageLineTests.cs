using System.IO.Pipelines;
using System.Text;
using AgentPlatform.Api.Upstream;

namespace AgentPlatform.Tests.Api.Usage;

/// <summary>The Api's copy of a stream: the Router's usage line is taken out wherever the reads split it, and nothing else is touched.</summary>
public sealed class UsageLineTests
{
    private const string Events =
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n" +
        "data: {\"choices\":[{\"delta\":{\"content\":\"\\n: agentplatform-usage is only text here\"}}]}\n\n" +
        ": a provider's own comment\n\n" +
        "data: [DONE]\n\n";

    private const string UsageLine = ": agentplatform-usage prompt=12;cached=4;completion=7;estimated=0;interrupted=1\n\n";

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(23)]
    [InlineData(64)]
    [InlineData(4096)]
    public async Task The_usage_line_is_read_and_stripped_however_the_stream_arrives_in_pieces(int readSize)
    {
        var (copied, answer) = await CopyAsync(Events + UsageLine, readSize);

        Assert.Equal(Events, copied);
        var usage = Assert.NotNull(answer.Usage);
        Assert.Equal(12, usage.Tokens.InputTokens);
        Assert.Equal(4, usage.Tokens.CachedInputTokens);
        Assert.Equal(7, usage.Tokens.OutputTokens);
        Assert.True(usage.Interrupted);
    }

    [Fact]
    public async Task Events_with_answer_text_are_counted_for_an_estimate_if_no_usage_arrives()
    {
        var (_, answer) = await CopyAsync(Events, readSize: 4096);

        Assert.Equal(2, answer.ContentEvents);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(4096)]
    public async Task A_stream_without_the_usage_line_is_copied_whole(int readSize)
    {
        var (copied, answer) = await CopyAsync(Events, readSize);

        Assert.Equal(Events, copied);
        Assert.Null(answer.Usage);
    }

    [Fact]
    public async Task A_stream_waits_for_its_next_event_without_holding_a_buffer()
    {
        // A held stream spends its life waiting for tokens: each wait is a zero-byte read, and a buffer is
        // rented only once bytes are there (9,000 held streams held 16 KB each before).
        var events = new Pipe();
        var upstream = new ReadRecordingStream(events.Reader.AsStream());
        var output = new Pipe();
        var answer = new RouterAnswer();
        var copy = RouterClient.CopyEventStreamAsync(upstream, output.Writer, answer, CancellationToken.None);

        foreach (var text in new[] { "Hi", " there" })
        {
            await events.Writer.WriteAsync(Encoding.UTF8.GetBytes($"data: {{\"choices\":[{{\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n"));
            var read = await output.Reader.ReadAsync();
            output.Reader.AdvanceTo(read.Buffer.End);
        }
        await events.Writer.CompleteAsync();
        await copy;

        Assert.Equal(2, answer.ContentEvents);
        Assert.NotEmpty(upstream.WaitingReadSizes);
        Assert.All(upstream.WaitingReadSizes, size => Assert.Equal(0, size));
    }

    private static async Task<(string Copied, RouterAnswer Answer)> CopyAsync(string stream, int readSize)
    {
        var pipe = new Pipe();
        var answer = new RouterAnswer();
        await RouterClient.CopyEventStreamAsync(new PiecewiseStream(Encoding.UTF8.GetBytes(stream), readSize), pipe.Writer, answer, CancellationToken.None);
        await pipe.Writer.CompleteAsync();
        using var copied = new MemoryStream();
        await pipe.Reader.CopyToAsync(copied);
        return (Encoding.UTF8.GetString(copied.ToArray()), answer);
    }

    /// <summary>Gives at most <c>readSize</c> bytes per read, as a network might.</summary>
    private sealed class PiecewiseStream(byte[] data, int readSize) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, readSize)], cancellationToken);
    }

    /// <summary>Records the size of every read that had to wait for data (did not complete at once).</summary>
    private sealed class ReadRecordingStream(Stream inner) : MemoryStream
    {
        public List<int> WaitingReadSizes { get; } = [];

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = inner.ReadAsync(buffer, cancellationToken);
            if (!read.IsCompleted)
            {
                WaitingReadSizes.Add(buffer.Length);
            }
            return read;
        }
    }
}
