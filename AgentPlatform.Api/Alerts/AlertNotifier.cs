using System.Text.Json;
using AgentPlatform.Contracts.Admin;
using AgentPlatform.Redis;
using AgentPlatform.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Alerts;

/// <summary>
/// Delivers queued alert notifications to every configured webhook — the alert as JSON, or Slack's
/// incoming-webhook message — retrying with doubling backoff, and records each delivery or failure in
/// the alert history. A notification leaves the outbox only once every webhook has had it.
/// </summary>
public sealed class AlertNotifier(
    AlertStore store, IHttpClientFactory httpClientFactory, IOptions<AlertOptions> options, TimeProvider timeProvider, ILogger<AlertNotifier> logger)
{
    public const string HttpClientName = "alerts";

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(1);
    private readonly AlertOptions _options = options.Value;

    /// <summary>Delivers what is queued while <paramref name="leading"/> says this replica evaluates the rules.</summary>
    public async Task DeliverWhileAsync(Func<bool> leading, CancellationToken cancellationToken)
    {
        var idle = TimeSpan.FromMilliseconds(Math.Min(200, _options.EvaluationInterval.TotalMilliseconds));
        try
        {
            while (true)
            {
                try
                {
                    if (!leading() || await store.TakeNotificationAsync() is not { } notification)
                    {
                        await Task.Delay(idle, timeProvider, cancellationToken);
                        continue;
                    }
                    var alert = JsonSerializer.Deserialize(notification, AlertJsonContext.Default.Alert)!;
                    foreach (var webhook in _options.Webhooks)
                    {
                        await store.RecordAsync(await DeliverAsync(webhook, alert, cancellationToken));
                    }
                    await store.FinishNotificationAsync(notification);
                }
                catch (Exception exception) when (RedisFailure.IsAnyButCancellation(exception))
                {
                    // Redis away, say: try again shortly, with what was taken back in the outbox (at least once).
                    Log.AlertEvaluationFailed(logger, exception);
                    await Task.Delay(idle * 5, timeProvider, cancellationToken);
                    await RequeueIfReachableAsync();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: what is still queued is delivered by the next evaluating replica.
        }
    }

    /// <summary>Puts taken notifications back in the outbox; if Redis is still away, the next round (or the next leader) does.</summary>
    private async Task RequeueIfReachableAsync()
    {
        try
        {
            await store.RequeueUnfinishedAsync();
        }
        catch (Exception exception) when (RedisFailure.IsAnyButCancellation(exception))
        {
        }
    }

    /// <summary>
    /// Delivers an alert to every webhook without Redis — for alerts decided while Redis is away — and
    /// returns the history entries (delivered or failed) to record once it is back.
    /// </summary>
    public async Task<List<AlertEvent>> DeliverWithoutRedisAsync(Alert alert, CancellationToken cancellationToken)
    {
        var events = new List<AlertEvent>();
        foreach (var webhook in _options.Webhooks)
        {
            events.Add(await DeliverAsync(webhook, alert, cancellationToken));
        }
        return events;
    }

    /// <summary>Sends the alert to one webhook, trying again with doubling backoff; the history entry of how it went.</summary>
    private async Task<AlertEvent> DeliverAsync(WebhookOptions webhook, Alert alert, CancellationToken cancellationToken)
    {
        var client = httpClientFactory.CreateClient(HttpClientName);
        string? error = null;
        for (var attempt = 1; attempt <= _options.DeliveryAttempts; attempt++)
        {
            try
            {
                using var body = Body(webhook, alert);
                using var response = await client.PostAsync(webhook.Url, body, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return Event(webhook, alert, "delivered", attempt, error: null);
                }
                error = $"HTTP {(int)response.StatusCode}";
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                error = exception.GetType().Name;
            }
            if (attempt < _options.DeliveryAttempts)
            {
                var backoff = TimeSpan.FromMilliseconds(_options.DeliveryBaseDelayMs * Math.Pow(2, attempt - 1));
                await Task.Delay(backoff < MaxBackoff ? backoff : MaxBackoff, timeProvider, cancellationToken);
            }
        }
        Log.AlertDeliveryFailed(logger, webhook.Name, _options.DeliveryAttempts, LogText.Safe(error));
        return Event(webhook, alert, "failed", _options.DeliveryAttempts, error);
    }

    private AlertEvent Event(WebhookOptions webhook, Alert alert, string outcome, int attempts, string? error) => new()
    {
        At = timeProvider.GetUtcNow(),
        Event = outcome,
        Fingerprint = alert.Fingerprint,
        Rule = alert.Rule,
        Summary = alert.Summary,
        Webhook = webhook.Name,
        Attempts = attempts,
        Error = error,
    };

    /// <summary>The alert as JSON, or as a Slack message (<c>{"text": ...}</c>).</summary>
    internal static HttpContent Body(WebhookOptions webhook, Alert alert) => webhook.Format == "slack"
        ? JsonContent.Create(new SlackMessage($"{(alert.Status == AlertStatus.Firing ? ":rotating_light: *FIRING*" : ":white_check_mark: *RESOLVED*")} [{alert.Rule}] {alert.Summary}"))
        : JsonContent.Create(alert, AlertJsonContext.Default.Alert);

    private sealed record SlackMessage(string Text);
}
