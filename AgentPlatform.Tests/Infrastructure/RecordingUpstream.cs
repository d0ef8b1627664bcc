using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// An OpenAI-compatible upstream that records every request exactly as it arrived (body bytes and
/// headers) and answers a fixed completion, to see what the Router really sends to a provider.
/// </summary>
public sealed class RecordingUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RecordingUpstream(WebApplication app) => _app = app;

    public ConcurrentQueue<(byte[] Body, IHeaderDictionary Headers)> Requests { get; } = new();

    public Uri BaseAddress { get; private set; } = null!;

    public static async Task<RecordingUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var upstream = new RecordingUpstream(app);
        app.MapPost("/v1/chat/completions", async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            upstream.Requests.Enqueue((body.ToArray(), new HeaderDictionary(context.Request.Headers.ToDictionary())));
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"id":"chatcmpl-rec","object":"chat.completion","created":1,"model":"upstream-model","choices":[{"index":0,"message":{"role":"assistant","content":"recorded"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}""");
        });
        await app.StartAsync();
        upstream.BaseAddress = new Uri(app.Urls.First());
        return upstream;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
