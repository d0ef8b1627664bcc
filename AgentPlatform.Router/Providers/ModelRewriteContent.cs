using System.Net;
using System.Net.Http.Headers;

namespace AgentPlatform.Router.Providers;

/// <summary>
/// The client's request body with only the <c>model</c> value replaced (and, for a stream that did not
/// ask for usage, <c>"stream_options":{"include_usage":true}</c> added as its first field): written as
/// slices straight to the connection, so the body is never copied or re-serialized and every unknown
/// field reaches the provider byte for byte.
/// </summary>
internal sealed class ModelRewriteContent : HttpContent
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    private readonly ReadOnlyMemory<byte> _body;
    private readonly Range _modelToken;
    private readonly byte[] _newModelToken;
    /// <summary>Where the added field goes (just after the body's opening brace); -1 when none is added.</summary>
    private readonly int _insertAt;

    private static ReadOnlySpan<byte> IncludeUsage => "\"stream_options\":{\"include_usage\":true},"u8;
    private static readonly byte[] IncludeUsageBytes = IncludeUsage.ToArray();

    public ModelRewriteContent(ReadOnlyMemory<byte> body, Range modelToken, byte[] newModelToken, bool addIncludeUsage = false)
    {
        _body = body;
        _modelToken = modelToken;
        _newModelToken = newModelToken;
        _insertAt = addIncludeUsage ? body.Span.IndexOf((byte)'{') + 1 : -1;
        Headers.ContentType = JsonContentType;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var (offset, length) = _modelToken.GetOffsetAndLength(_body.Length);
        var start = 0;
        if (_insertAt > 0)
        {
            // The opening brace always comes before the model token.
            await stream.WriteAsync(_body[.._insertAt], cancellationToken);
            await stream.WriteAsync(IncludeUsageBytes, cancellationToken);
            start = _insertAt;
        }
        await stream.WriteAsync(_body[start..offset], cancellationToken);
        await stream.WriteAsync(_newModelToken, cancellationToken);
        await stream.WriteAsync(_body[(offset + length)..], cancellationToken);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _body.Length - _modelToken.GetOffsetAndLength(_body.Length).Length + _newModelToken.Length
            + (_insertAt > 0 ? IncludeUsageBytes.Length : 0);
        return true;
    }
}
