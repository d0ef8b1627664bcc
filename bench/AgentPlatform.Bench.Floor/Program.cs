// The floor: the least any .NET gateway must do. Kestrel, one pooled HttpClient, read the body, POST it
// upstream, copy the response back. No auth, no limits, no logging, no telemetry. The platform's
// throughput and latency are reported as ratios to this, measured in the same run.
using System.Buffers;
using System.Net.Http.Headers;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var upstream = new Uri(builder.Configuration["Upstream"] ?? throw new InvalidOperationException("Set Upstream to the upstream's chat completions URL."));

var app = builder.Build();
var client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), UseCookies = false })
{
    Timeout = Timeout.InfiniteTimeSpan,
};
var json = new MediaTypeHeaderValue("application/json");

app.MapPost("/v1/chat/completions", async context =>
{
    using var body = new MemoryStream();
    await context.Request.Body.CopyToAsync(body, context.RequestAborted);
    using var request = new HttpRequestMessage(HttpMethod.Post, upstream)
    {
        Content = new ByteArrayContent(body.GetBuffer(), 0, (int)body.Length),
    };
    request.Content.Headers.ContentType = json;
    using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
    context.Response.StatusCode = (int)response.StatusCode;
    context.Response.ContentType = response.Content.Headers.ContentType?.ToString();
    context.Response.ContentLength = response.Content.Headers.ContentLength;
    await using var stream = await response.Content.ReadAsStreamAsync(context.RequestAborted);
    if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
    {
        await RelayEventsAsync(stream, context.Response.Body, context.RequestAborted);
        return;
    }
    await stream.CopyToAsync(context.Response.Body, context.RequestAborted);
});

app.Run();

// A stream waits for its next event holding no buffer (a zero-byte read), as the platform's relays do:
// the floor of what a held stream must cost is then its connections alone, not the copy's buffers.
static async Task RelayEventsAsync(Stream from, Stream to, CancellationToken cancellationToken)
{
    while (true)
    {
        _ = await from.ReadAsync(Memory<byte>.Empty, cancellationToken);
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            var read = await from.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                return;
            }
            await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
