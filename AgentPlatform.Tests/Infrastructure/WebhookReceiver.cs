using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>A webhook endpoint for alert notifications: records every POST by path, and can fail the first few of a path.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _failuresLeft = new();

    private WebhookReceiver(WebApplication app) => _app = app;

    /// <summary>Every notification received (answered 200), in order: its path and JSON body.</summary>
    public ConcurrentQueue<(string Path, JsonElement Body)> Received { get; } = new();

    /// <summary>Every request, including those refused with 500.</summary>
    public ConcurrentQueue<string> Attempts { get; } = new();

    public Uri BaseAddress { get; private set; } = null!;

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/{**path}", async (HttpContext context, string path) =>
        {
            receiver.Attempts.Enqueue(path);
            if (receiver._failuresLeft.TryGetValue(path, out var left) && left > 0)
            {
                receiver._failuresLeft[path] = left - 1;
                return Results.StatusCode(StatusCodes.Status500InternalServerError);
            }
            var body = await JsonSerializer.DeserializeAsync<JsonElement>(context.Request.Body);
            receiver.Received.Enqueue((path, body));
            return Results.Ok();
        });
        await app.StartAsync();
        receiver.BaseAddress = new Uri(app.Urls.First());
        return receiver;
    }

    /// <summary>The first notification to the webhook at <paramref name="path"/> that matches, once one arrives.</summary>
    /// <remarks>20 s unless said: an alert waits out its rule's <c>for</c> and the evaluation rounds first.</remarks>
    public Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, TimeSpan? timeout = null, string path = "json") =>
        Eventually.ReadAsync(() => Task.FromResult(Received.Where(r => r.Path == path).Select(r => r.Body).FirstOrDefault(match)),
            found => found.ValueKind == JsonValueKind.Object, $"a matching notification at '{path}'", timeout ?? TimeSpan.FromSeconds(20));

    /// <summary>The notifications to the webhook at <paramref name="path"/> that match.</summary>
    public List<JsonElement> All(Func<JsonElement, bool> match, string path = "json") =>
        Received.Where(r => r.Path == path).Select(r => r.Body).Where(match).ToList();

    /// <summary>
    /// An Api's alerting settings for tests: rounds every 0.2 s, retries from 50 ms, and two webhooks
    /// here — <c>json</c> (ops-json) and <c>slack</c> (ops-slack) — plus <paramref name="rules"/>.
    /// </summary>
    public Dictionary<string, string?> AlertSettings(IReadOnlyDictionary<string, string?> rules)
    {
        var settings = new Dictionary<string, string?>(rules)
        {
            ["Alerts:EvaluationIntervalSeconds"] = "0.2",
            ["Alerts:DeliveryBaseDelayMs"] = "50",
            ["Alerts:Webhooks:0:Name"] = "ops-json",
            ["Alerts:Webhooks:0:Url"] = $"{BaseAddress}json",
            ["Alerts:Webhooks:1:Name"] = "ops-slack",
            ["Alerts:Webhooks:1:Url"] = $"{BaseAddress}slack",
            ["Alerts:Webhooks:1:Format"] = "slack",
        };
        return settings;
    }

    /// <summary>The next <paramref name="count"/> notifications to <paramref name="path"/> are answered 500.</summary>
    public void FailNext(string path, int count) => _failuresLeft[path] = count;

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
