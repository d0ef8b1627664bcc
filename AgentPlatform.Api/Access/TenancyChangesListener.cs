using AgentPlatform.Api.Tenancy;
using StackExchange.Redis;

namespace AgentPlatform.Api.Access;

/// <summary>
/// Hears every tenant and key change made on any Api replica and drops it from this replica's cache;
/// after a lost connection (when messages may have been missed) it drops everything.
/// </summary>
public sealed class TenancyChangesListener(IConnectionMultiplexer redis, ClientAuthenticator authenticator) : IHostedService
{
    private ChannelMessageQueue? _subscription;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _subscription = await redis.GetSubscriber().SubscribeAsync(TenancyStore.ChangesChannel);
        _subscription.OnMessage(message => authenticator.Apply((string)message.Message!));
        redis.ConnectionRestored += (_, _) => authenticator.MarkAllStale();
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_subscription is not null)
        {
            await _subscription.UnsubscribeAsync();
        }
    }
}
