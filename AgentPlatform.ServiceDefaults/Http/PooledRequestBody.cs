using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AgentPlatform.ServiceDefaults.Http;

/// <summary>
/// A request body read whole into a pooled buffer, with a size limit. Chat requests are small and must be
/// seen whole (to validate and route them), so they are read once into rented memory rather than
/// into a fresh array per request. Dispose returns the buffer.
/// </summary>
public sealed class PooledRequestBody : IDisposable
{
    private byte[]? _buffer;

    private PooledRequestBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    /// <summary>A body the service made itself (a request rewritten before it goes on), in a pooled buffer like a read one.</summary>
    public static PooledRequestBody Of(ReadOnlySpan<byte> bytes)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(bytes.Length, 1));
        bytes.CopyTo(buffer);
        return new PooledRequestBody(buffer, bytes.Length);
    }

    /// <summary>The most rented before any byte has arrived.</summary>
    private const int InitialBytes = 64 * 1024;

    public int Length { get; }

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, Length);

    /// <summary>
    /// How much of an oversized body is read and discarded before the 413, as a multiple of the limit.
    /// A client still uploading when the server answers and closes gets a broken pipe instead of
    /// the 413 (seen in CI); draining lets it read the answer. Past this much the connection is
    /// closed rather than reading an unbounded upload.
    /// </summary>
    private const long DrainFactor = 4;

    /// <summary>
    /// Reads the body of a client's request; over <paramref name="maxBytes"/> (declared or not), reads
    /// and discards some more so the client can read the 413 the caller then writes, and returns null.
    /// </summary>
    public static async ValueTask<PooledRequestBody?> ReadOrDrainAsync(HttpContext context, long maxBytes)
    {
        var drainBytes = maxBytes * DrainFactor;
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = drainBytes; // Kestrel refuses (and closes) past this
        }
        var body = await ReadAsync(context.Request, maxBytes, context.RequestAborted);
        if (body is null && !(context.Request.ContentLength > drainBytes))
        {
            await DrainAsync(context.Request.BodyReader, context.RequestAborted);
        }
        return body;
    }

    private static async Task DrainAsync(System.IO.Pipelines.PipeReader reader, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken);
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (BadHttpRequestException)
        {
            // Past the drain limit: Kestrel closes the connection after the 413.
        }
    }

    /// <summary>Reads the body; returns null when it is longer than <paramref name="maxBytes"/>.</summary>
    public static async ValueTask<PooledRequestBody?> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return null;
        }

        var reader = request.BodyReader;
        // Grown as the bytes arrive, never sized by what the client declares: a Content-Length alone must not take memory.
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Min(request.ContentLength ?? 4096, InitialBytes), maxBytes) + 1);
        var length = 0;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken);
                var data = result.Buffer;
                if (length + data.Length > maxBytes)
                {
                    reader.AdvanceTo(data.End);
                    ArrayPool<byte>.Shared.Return(buffer);
                    return null;
                }
                if (length + data.Length > buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(buffer.Length * 2, length + data.Length), maxBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                data.CopyTo(buffer.AsSpan(length));
                length += (int)data.Length;
                reader.AdvanceTo(data.End);
                if (result.IsCompleted)
                {
                    return new PooledRequestBody(buffer, length);
                }
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
